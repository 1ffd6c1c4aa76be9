# The offline stand-in for python:3.11-slim-bookworm: Debian's Python 3.11 on a bookworm base
# made by debootstrap (docker/offline/build.sh), since no registry can be reached.
ARG DEBIAN_IMAGE=adagrpo-offline/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && ln -s /usr/bin/python3 /usr/local/bin/python
