#!/usr/bin/env bash
# Run the retraining DAG for one logical date with `airflow dags test`, on a local SQLite
# metadata database. Usage: scripts/run-dag.sh YYYY-MM-DD ['{"lookback_days": 2}']
set -euo pipefail
cd "$(dirname "$0")/.."
ds=${1:?usage: run-dag.sh YYYY-MM-DD [CONF_JSON]}
conf=${2:-"{}"}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$PWD/var/airflow}
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
mkdir -p "$AIRFLOW_HOME"
{ .venv/bin/airflow db migrate \
  && .venv/bin/airflow pools set adagrpo_gpu 1 "training slots of the GPU nodes"; } \
  >"$AIRFLOW_HOME/migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/migrate.log" >&2; exit 1; }
exec .venv/bin/airflow dags test adagrpo_retrain "$ds" --conf "$conf"
