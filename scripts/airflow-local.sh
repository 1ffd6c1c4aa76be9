#!/usr/bin/env bash
# A live Airflow for this checkout on loopback: api-server (UI and REST API), scheduler,
# dag-processor and triggerer, on run-dag.sh's SQLite database and LocalExecutor. Ctrl-C stops it.
#   AIRFLOW_PORT            the UI and API port (8080)
#   AIRFLOW_ADMIN_PASSWORD  the admin's password (generated and printed when unset)
#   AIRFLOW_DAILY_SCHEDULE  true: the scheduler starts the daily runs of unpaused DAGs (false)
#   AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT, AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT
#                           where the scheduler and triggerer serve task logs (8793, 8794)
# Stages run with $ADAGRPO_CONFIG and ADAGRPO__* settings, as with run-dag.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/airflow-env.sh
port=${AIRFLOW_PORT:-8080}
secret() { python3 -c 'import secrets; print(secrets.token_urlsafe(24))'; }
export AIRFLOW_ADMIN_PASSWORD=${AIRFLOW_ADMIN_PASSWORD:-$(secret)}
export AIRFLOW__API__HOST=127.0.0.1 AIRFLOW__API__PORT=$port
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$port/execution/
# Tokens signed by this api-server, checked by the task processes it serves.
export AIRFLOW__API_AUTH__JWT_SECRET=${AIRFLOW__API_AUTH__JWT_SECRET:-$(secret)}
export AIRFLOW__API__SECRET_KEY=${AIRFLOW__API__SECRET_KEY:-$AIRFLOW__API_AUTH__JWT_SECRET}
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=admin:admin
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE=$AIRFLOW_HOME/passwords.json
export AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=${AIRFLOW_DAILY_SCHEDULE:-false}
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}
airflow_init

components=(api-server scheduler dag-processor triggerer)
pids=()
for component in "${components[@]}"; do
  docker/airflow/entrypoint "$component" >"$AIRFLOW_HOME/$component.log" 2>&1 &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null || true; wait' EXIT
trap 'exit 130' INT TERM

stopped() {
  echo "an Airflow component stopped; the logs are in $AIRFLOW_HOME" >&2
  exit 1
}
health=http://127.0.0.1:$port/api/v2/monitor/health
for _ in $(seq 180); do
  curl -fsS "$health" >/dev/null 2>&1 && break
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || stopped; done
  sleep 1
done
curl -fsS "$health" >/dev/null || { echo "no answer from $health" >&2; exit 1; }
echo "Airflow UI and REST API: http://127.0.0.1:$port (user admin, password $AIRFLOW_ADMIN_PASSWORD)"
echo "Component logs: $AIRFLOW_HOME/<component>.log"
# Any component that stops takes the others down: a half-running Airflow runs nothing.
wait -n "${pids[@]}"
stopped
