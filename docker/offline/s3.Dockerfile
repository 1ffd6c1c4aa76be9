# The offline stand-in for MinIO, which Debian does not package: moto's S3-protocol server on
# port 9000, installed from the offline build's wheelhouse.
ARG PYTHON_IMAGE=adagrpo-offline/python:3.11
FROM ${PYTHON_IMAGE}
ARG PIP_FIND_LINKS=""
ARG PIP_NO_INDEX=""
COPY constraints.txt /tmp/
RUN python3 -m venv /opt/moto \
    && /opt/moto/bin/pip install --no-cache-dir --constraint /tmp/constraints.txt "moto[server]" \
    && useradd --uid 10002 moto
USER moto
EXPOSE 9000
CMD ["/opt/moto/bin/moto_server", "--host", "0.0.0.0", "--port", "9000"]
