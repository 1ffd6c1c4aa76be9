#!/usr/bin/env bash
# Build the images with nothing pulled from a registry: a Debian base made by debootstrap
# replaces the public base images, and pip installs from a wheelhouse served on loopback.
# Usage: docker/offline/build.sh [IMAGE...]   (default: every image under docker/, and the
# stand-ins for the compose stack's registry-only images, docker/offline/compose.yml)
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/ensure-docker.sh
work=var/offline-build
mkdir -p "$work"

if ! docker image inspect adagrpo-offline/debian:bookworm >/dev/null 2>&1; then
  echo "making the Debian bookworm base with debootstrap" >&2
  if ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  rm -rf "$work/rootfs"
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian \
    >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
  tar -C "$work/rootfs" -c . | docker import - adagrpo-offline/debian:bookworm >/dev/null
  rm -rf "$work/rootfs"
fi
docker build --quiet -t adagrpo-offline/python:3.11 -f docker/offline/python.Dockerfile \
  docker/offline >/dev/null

# The wheels of constraints.txt, fetched by this machine's pip (which finds the CPU build of
# torch on disk), served to the image builds.
wheels=var/wheelhouse
if [[ ! -f "$wheels/.complete" || constraints.txt -nt "$wheels/.complete" ]]; then
  echo "fetching the wheelhouse" >&2
  mkdir -p "$wheels"
  .venv/bin/pip download --quiet --constraint constraints.txt --dest "$wheels" \
    ".[deploy]" "moto[server]"
  # Debian's Python (3.11.2) needs what a marker asks of Pythons before 3.11.3 (redis:
  # async-timeout), which this machine's newer Python skipped.
  .venv/bin/pip download --quiet --dest "$wheels" "async-timeout>=4.0.3"
  # Source distributions (pyspark's) become wheels here: the image builds have no index to
  # fetch their build tools from.
  for sdist in "$wheels"/*.tar.gz; do
    [[ -e $sdist ]] || continue
    .venv/bin/pip wheel --quiet --no-deps --wheel-dir "$wheels" "$sdist" && rm "$sdist"
  done
  touch "$wheels/.complete"
fi
# A fixed port: the wheelhouse's address is a build argument, so it must not change between
# builds for the dependencies' layer to be reused.
port=${WHEELHOUSE_PORT:-3141}
.venv/bin/python -m http.server --bind 127.0.0.1 --directory "$wheels" "$port" \
  >"$work/wheelhouse.log" 2>&1 &
server=$!
trap 'kill $server' EXIT

build_args=(
  --build-arg PIP_NO_INDEX=1
  --build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/"
)
images=("$@")
image_id() { docker image inspect --format '{{.Id}}' "$1" 2>/dev/null || true; }
if [[ ${#images[@]} -eq 0 ]]; then
  images=(pipeline trainer airflow)
  for stand_in in postgres:15 redis:7 s3:moto; do
    name=${stand_in%%:*}
    echo "building adagrpo-offline/$stand_in" >&2
    docker build --quiet --network host "${build_args[@]}" -t "adagrpo-offline/$stand_in" \
      -f "docker/offline/$name.Dockerfile" . >/dev/null
  done
fi
for image in "${images[@]}"; do
  echo "building adagrpo/$image:local" >&2
  started=$(date +%s)
  replaced=$(image_id "adagrpo/$image:local")
  docker build --network host \
    --build-arg BASE_IMAGE=adagrpo-offline/python:3.11 "${build_args[@]}" \
    --build-arg S3A_CONNECTOR=false \
    --build-arg PIP_EXTRA_INDEX_URL= \
    -f "docker/$image/Dockerfile" -t "adagrpo/$image:local" .
  echo "adagrpo/$image:local built in $(( $(date +%s) - started )) s" >&2
  # The image a rebuild replaces holds its own copy of the virtual environment (GBs): remove
  # it. Only that one: the untagged build stages are the layer cache of the next build.
  if [[ -n $replaced && $replaced != "$(image_id "adagrpo/$image:local")" ]]; then
    docker rmi "$replaced" >/dev/null 2>&1 || echo "kept the replaced $replaced: in use" >&2
  fi
done
