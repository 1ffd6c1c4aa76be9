#!/usr/bin/env bash
# Spark 4 runs on Java 17 or newer; install a headless JRE when the machine has none.
set -euo pipefail
version=$(java -version 2>&1 | awk -F'"' '/version/ {split($2, v, "."); print v[1]}' || true)
if [[ -n "${version}" && "${version}" -ge 17 ]]; then
  exit 0
fi
echo "Java 17+ not found (have: ${version:-none}); installing openjdk-17-jre-headless" >&2
if [[ $(id -u) -ne 0 ]]; then
  echo "error: installing Java needs root; install a Java 17+ runtime and retry" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openjdk-17-jre-headless
