#!/usr/bin/env bash
# The Redis server that the Redis online store's test and the scale benchmark start on their own
# ports; installed when the machine has none. Debian's package would also start a server on
# 6379 as a service: it is kept from starting (nothing here uses it).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
echo "redis-server not found; installing Debian's redis-server" >&2
if [[ $(id -u) -ne 0 ]]; then
  echo "error: installing Redis needs root; install redis-server and retry" >&2
  exit 1
fi
policy=/usr/sbin/policy-rc.d
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server
