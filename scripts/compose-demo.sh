#!/usr/bin/env bash
# `make compose-demo`: bring the compose stack up, run the demo day of the DAG in it through
# Airflow's REST API, and say where the UI and the registered model are. The stack stays up
# (docker compose down --volumes removes it and its data).
# Usage: scripts/compose-demo.sh DS [CONF_JSON]
#   OFFLINE=1   build every image from a local base and use the offline stand-ins for the
#               registry-only images (docker/offline/compose.yml): for machines that cannot pull
set -euo pipefail
cd "$(dirname "$0")/.."
ds=${1:?usage: compose-demo.sh YYYY-MM-DD [CONF_JSON]}
conf=${2:-"{}"}
scripts/ensure-docker.sh
scripts/ensure-compose.sh
scripts/compose-env.sh
files=(-f docker-compose.yml)
if [[ ${OFFLINE:-0} == 1 ]]; then
  docker/offline/build.sh
  files+=(-f docker/offline/compose.yml)
else
  docker compose "${files[@]}" --profile stages build
fi
docker compose "${files[@]}" up --detach --wait
set -a
source .env
set +a
.venv/bin/python -m components.orchestration.airflow_client \
  --url "http://127.0.0.1:${AIRFLOW_PORT}" trigger "$ds" --conf "$conf"
echo "The registry (s3://${S3_REGISTRY_BUCKET}/models on the stack's S3 endpoint):" >&2
docker compose "${files[@]}" run --rm --no-deps pipeline registry list
cat >&2 <<MSG
Airflow UI:  http://127.0.0.1:${AIRFLOW_PORT}  (user admin, password AIRFLOW_ADMIN_PASSWORD in .env)
S3 endpoint: http://127.0.0.1:${S3_PORT}  (bucket ${S3_REGISTRY_BUCKET}, keys S3_ACCESS_KEY / S3_SECRET_KEY in .env)
Stop it:     docker compose ${files[*]} down --volumes
MSG
