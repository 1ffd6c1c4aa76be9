#!/usr/bin/env bash
# The `airflow` CLI on this checkout's local Airflow (run-dag.sh's and airflow-local.sh's
# metadata database, with their settings: above all SQLite's one-minute wait for the
# scheduler's writes). Usage: scripts/airflow-cli.sh ARGS..., e.g. backfill create ...
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh
exec airflow "$@"
