#!/usr/bin/env bash
# Docker Compose v2 as a CLI plugin: use the one there is, or take the binary out of Debian
# trixie's docker-compose package (bookworm packages only Compose v1). Root only.
set -euo pipefail
if docker compose version >/dev/null 2>&1; then
  exit 0
fi
version=2.26.1-4
sha256=47681197cb2b1ab88206b42a1a92fc75f50d9530a6322d03494a473eed0408ea
if [[ $(dpkg --print-architecture) != amd64 ]]; then
  echo "error: no Compose v2 found; install the docker-compose-plugin of your platform" >&2
  exit 1
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "installing Compose v2 ($version, from Debian trixie)" >&2
curl -fsSL -o "$work/compose.deb" \
  "http://deb.debian.org/debian/pool/main/d/docker-compose/docker-compose_${version}_amd64.deb"
echo "$sha256  $work/compose.deb" | sha256sum --check --quiet
dpkg-deb -x "$work/compose.deb" "$work/tree"
install -D -m 755 "$work/tree/usr/libexec/docker/cli-plugins/docker-compose" \
  /usr/local/lib/docker/cli-plugins/docker-compose
docker compose version >&2
