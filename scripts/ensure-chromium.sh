#!/usr/bin/env bash
# Debian's Chromium for the browser tests (Playwright drives it; its own browser download needs
# a CDN no offline machine reaches): use the one there is, or install it (root only).
set -euo pipefail
if command -v chromium >/dev/null; then
  exit 0
fi
if [[ $(id -u) -ne 0 ]]; then
  echo "error: no chromium on PATH, and installing Debian's needs root (apt-get install chromium)" >&2
  exit 1
fi
echo "installing Debian's chromium" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
