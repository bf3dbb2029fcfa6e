VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The lock: every dependency, direct and transitive, at one version with its files' sha256 hashes, as
# requirements files that name no index (README, "Tests"). The service's alone, which the image installs, and
# the service's with the dev extra, which $(VENV) is; `make lock` writes both.
LOCK := requirements.txt
DEV_LOCK := requirements-dev.txt
# uv installs $(VENV) from the lock. It lives in a venv of its own, one per version: `uv pip sync` leaves in
# $(VENV) exactly what the lock has, so it would remove itself from there.
UV_VERSION := 0.13.8
UV := .uv/$(UV_VERSION)/bin/uv
# Never a Python of uv's own: the venv's, made from the machine's python3. The system's certificate
# authorities, as pip uses them: a network that inspects TLS has its own there, not in uv's built-in roots.
UV_ENV := UV_PYTHON_DOWNLOADS=never UV_SYSTEM_CERTS=1
# One resolution for every platform and Python the project allows (its requires-python floor), markers where
# they differ; hashes of every file of each pinned version; no index URL (uv's default: --emit-index-url off).
UV_COMPILE := $(UV) pip compile --quiet pyproject.toml --universal --python-version 3.11 --generate-hashes \
	--no-annotate --custom-compile-command 'make lock'

# The project's own packages; `bytecode` compiles them, as the install compiles the dependencies.
SOURCES := core domain workflows activities starter web devstack bench worker.py

.PHONY: run test lint bench lock clean bytecode

$(UV):
	python3 -m venv .uv/$(UV_VERSION)
	.uv/$(UV_VERSION)/bin/pip install --quiet uv==$(UV_VERSION)

# $(VENV) is exactly the dev lock, hashes checked: packages it doesn't have are removed. Then the project
# itself, editable and without dependencies, built by the dev lock's setuptools (the build constraint pins
# the build environment's setuptools to that version and those hashes); `uv pip check` finds any requirement
# the lock leaves unmet. No pip in $(VENV): uv installs into it. Compiled to bytecode as it is installed:
# where PYTHONDONTWRITEBYTECODE is set, Python would otherwise compile every module again in each process,
# seconds of CPU for each start of the worker or the API.
$(STAMP): pyproject.toml $(LOCK) $(DEV_LOCK) $(UV)
	test -x $(PY) || python3 -m venv --without-pip $(VENV)
	$(UV_ENV) $(UV) pip sync --quiet --python $(PY) --compile-bytecode --require-hashes $(DEV_LOCK)
	$(UV_ENV) $(UV) pip install --quiet --python $(PY) --no-deps --build-constraints $(DEV_LOCK) -e .
	$(UV_ENV) $(UV) pip check --quiet --python $(PY)
	touch $(STAMP)

## Start the whole service on the embedded default stack (Ctrl-C stops it; data stays under .nopic/).
run: $(STAMP) bytecode
	$(VENV)/bin/nopic up

# The test files run on both cores (pytest-xdist), a file's tests on one worker so its module fixtures
# (a whole stack, a browser) start once.
TEST_WORKERS ?= 2

## Lint, type-check and run the whole test suite.
test: $(STAMP) lint bytecode
	$(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=20

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy $(SOURCES)

bytecode: $(STAMP)
	$(PY) -m compileall -q $(SOURCES)

bench: $(STAMP)
	$(PY) -m bench

## Write the lock again after a change to pyproject.toml's dependencies, keeping every version it can (the
## files' own pins are the starting point); `make lock UPGRADE=httpx` (or 'httpx uvicorn', or httpx==0.28.1)
## moves those packages to their newest allowed releases (or to that one). The dev lock is resolved first;
## the service's lock is constrained to its versions, so the image runs what `make test` tests.
lock: $(UV)
	$(UV_ENV) $(UV_COMPILE) --extra dev $(foreach package,$(UPGRADE),--upgrade-package $(package)) -o $(DEV_LOCK)
	$(UV_ENV) $(UV_COMPILE) --constraints $(DEV_LOCK) -o $(LOCK)

clean:
	rm -rf $(VENV) .uv .pytest_cache .mypy_cache .ruff_cache
