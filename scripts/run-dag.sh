#!/usr/bin/env bash
# Run the retraining DAG for one logical date with `airflow dags test`, on a local SQLite
# metadata database. Usage: scripts/run-dag.sh YYYY-MM-DD ['{"lookback_days": 2}']
set -euo pipefail
cd "$(dirname "$0")/.."
ds=${1:?usage: run-dag.sh YYYY-MM-DD [CONF_JSON]}
conf=${2:-"{}"}
source scripts/airflow-env.sh
airflow_init
exec airflow dags test adagrpo_retrain "$ds" --conf "$conf"
