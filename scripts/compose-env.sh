#!/usr/bin/env bash
# Write the compose stack's .env from .env.example when there is none: random secrets (a valid
# Fernet key among them) and the Docker socket's group. An existing .env is left as it is.
set -euo pipefail
cd "$(dirname "$0")/.."
env_file=${1:-.env}
[[ -f $env_file ]] && exit 0
python3 - .env.example "$env_file" "$(stat -c %g /var/run/docker.sock)" <<'PY'
import base64, os, re, secrets, sys

example, target, docker_gid = sys.argv[1:]
def secret(name: str) -> str:
    if name == "AIRFLOW_FERNET_KEY":
        return base64.urlsafe_b64encode(os.urandom(32)).decode()
    return secrets.token_urlsafe(24)

lines = []
for line in open(example):
    name, sep, value = line.rstrip("\n").partition("=")
    if sep and value == "change-me":
        line = f"{name}={secret(name)}\n"
    elif sep and name == "DOCKER_GID":
        line = f"{name}={docker_gid}\n"
    lines.append(line)
with open(target, "w") as out:
    out.writelines(lines)
os.chmod(target, 0o600)
PY
echo "wrote $env_file (secrets generated; the admin password is AIRFLOW_ADMIN_PASSWORD)" >&2
