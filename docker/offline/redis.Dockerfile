# The offline stand-in for the redis image: Debian's Redis 7 on every interface.
ARG DEBIAN_IMAGE=adagrpo-offline/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends redis-server \
    && rm -rf /var/lib/apt/lists/*
USER redis
CMD ["redis-server", "--protected-mode", "no", "--save", ""]
