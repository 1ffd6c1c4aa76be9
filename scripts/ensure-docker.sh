#!/usr/bin/env bash
# A running Docker engine: use the one there is, or install Debian's and start it (root only).
set -euo pipefail
if docker info >/dev/null 2>&1; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: no Docker engine answers, and starting one needs root" >&2
  exit 1
fi
if ! command -v dockerd >/dev/null; then
  echo "installing Debian's docker.io" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
log=${DOCKERD_LOG:-/var/log/dockerd.log}
echo "starting dockerd (log: $log)" >&2
nohup dockerd >"$log" 2>&1 &
for _ in $(seq 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 1
done
echo "error: dockerd did not start; its log:" >&2
tail -20 "$log" >&2
exit 1
