#!/bin/sh
# Install the adagrpo package into the image's virtual environment, /opt/adagrpo, in phases so
# that the dependencies' layers survive changes to the code and to pyproject.toml's other tables:
#   install-adagrpo.sh requirements [EXTRA]   print pyproject.toml's dependencies (or an extra's)
#   install-adagrpo.sh dependencies FILE      install FILE's requirements, pinned by constraints.txt
#   install-adagrpo.sh package                the package itself (components/, sql/); checks it
set -eu
case "${1:-}" in
  requirements)
    shift
    python3 -c 'import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
extra = sys.argv[1] if len(sys.argv) > 1 else None
print("\n".join(project["optional-dependencies"][extra] if extra else project["dependencies"]))' "$@"
    ;;
  dependencies)
    [ -x /opt/adagrpo/bin/pip ] || python3 -m venv /opt/adagrpo
    /opt/adagrpo/bin/pip install --constraint constraints.txt --requirement "${2:?requirements file}"
    ;;
  package)
    /opt/adagrpo/bin/pip install --no-deps .
    /opt/adagrpo/bin/adagrpo --help > /dev/null
    ;;
  *)
    echo "usage: install-adagrpo.sh requirements [EXTRA] | dependencies FILE | package" >&2
    exit 2
    ;;
esac
