# The offline stand-in for the postgres image: Debian's PostgreSQL 15, started by a script that
# honours the same POSTGRES_USER / POSTGRES_PASSWORD / POSTGRES_DB contract.
ARG DEBIAN_IMAGE=adagrpo-offline/debian:bookworm
FROM ${DEBIAN_IMAGE}
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15 \
    && rm -rf /var/lib/apt/lists/* \
    && install -d -o postgres /var/lib/postgresql/data /var/run/postgresql
COPY docker/offline/postgres-entrypoint /usr/local/bin/
ENV PATH=/usr/lib/postgresql/15/bin:$PATH PGDATA=/var/lib/postgresql/data
USER postgres
ENTRYPOINT ["postgres-entrypoint"]
