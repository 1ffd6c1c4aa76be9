#!/bin/sh
# Install the adagrpo package into the image's virtual environment, /opt/adagrpo, in two phases
# so that the dependencies' layer survives code changes:
#   install-adagrpo.sh dependencies   pyproject.toml's dependencies, pinned by constraints.txt
#   install-adagrpo.sh package        the package itself (components/, sql/); checks it starts
set -eu
case "${1:-}" in
  dependencies)
    python3 -m venv /opt/adagrpo
    python3 -c 'import tomllib
for requirement in tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]:
    print(requirement)' > requirements.txt
    /opt/adagrpo/bin/pip install --constraint constraints.txt --requirement requirements.txt
    ;;
  package)
    /opt/adagrpo/bin/pip install --no-deps .
    /opt/adagrpo/bin/adagrpo --help > /dev/null
    ;;
  *)
    echo "usage: install-adagrpo.sh dependencies|package" >&2
    exit 2
    ;;
esac
