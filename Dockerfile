# One image for every process of the service: `nopic worker`, `nopic api`, `nopic migrate`,
# `nopic oid-sandbox`, ... (docker-compose.yml runs each as a service). Configuration comes from NOPIC_*
# environment variables only, as in core/settings.py.

# Pinned by tag: a rebuild gets the same Python and Debian release.
FROM python:3.11-slim-bookworm AS build

# Every dependency at its version in requirements.txt (the service's lock: no dev extra), hashes required,
# and nothing else: a venv without pip (and so without the setuptools that comes with it, which `uv pip sync`
# would leave), uv (the Makefile's version) in this stage only. Bytecode compiled at install, as the image's
# user cannot write it later.
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/nopic UV_PYTHON_DOWNLOADS=never UV_NO_CACHE=1 UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1
RUN python -m venv --without-pip /opt/nopic && pip install uv==0.13.8
WORKDIR /src
# The dependencies first, in a layer that only a change of the lock rebuilds.
COPY requirements.txt ./
RUN uv pip sync --require-hashes requirements.txt
# Then the project alone (a wheel, no dependencies), built by the dev lock's setuptools, its hashes checked:
# requirements-dev.txt is only the build's constraint here, nothing installs from it.
COPY pyproject.toml README.md worker.py requirements-dev.txt ./
COPY core core
COPY domain domain
COPY workflows workflows
COPY activities activities
COPY starter starter
COPY web web
COPY devstack devstack
RUN uv pip install --no-deps --build-constraints requirements-dev.txt . && uv pip check

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
