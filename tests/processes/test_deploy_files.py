"""docker-compose.yml, the Dockerfile and deploy/ agree with the settings object and the image's commands.

No Docker engine runs here: these read the files (PyYAML) and check what a `docker compose up` would rely on;
the commands themselves are started for real in test_production_processes.py, and the namespace script
against a real Temporal server below.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import typer
import yaml
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.testing import WorkflowEnvironment

from core.binaries import find_binary
from core.settings import Settings, policy_from_settings
from domain.policy import IssuanceMode, OperationsSource
from starter.cli import Probed
from starter.cli import app as cli_app
from tests.support.dirs import REPO
from workflows.search_attributes import ALL as SEARCH_ATTRIBUTES

ROOT = REPO
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# The services that run the project's own image, and so the `nopic` entry point.
NOPIC_SERVICES = {name for name, service in SERVICES.items() if service["image"].startswith("nopic:")}
# Services that need nothing else running to start (the OID and mail stand-ins are self-contained).
ROOTS = {"postgres", "oid-sandbox", "mailpit"}
DEFAULTS = Settings(_env_file=None)  # type: ignore[call-arg]

_INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?::?(?P<op>[-?])(?P<arg>[^}]*))?\}")


def interpolate(value: str, env: dict[str, str] | None = None) -> str:
    """What compose makes of `${VAR}`, `${VAR:-default}` and `${VAR:?message}` with `env` as the .env file."""
    env = env or {}

    def substitute(match: re.Match[str]) -> str:
        if match["name"] in env:
            return env[match["name"]]
        if match["op"] == "-":
            return match["arg"]
        return f"<{match['name']}>"  # required (`:?`): a placeholder stands for the operator's value

    return _INTERPOLATION.sub(substitute, value)


def environment(service: str) -> dict[str, str]:
    variables = SERVICES[service].get("environment") or {}
    return {key: interpolate(str(value)) for key, value in variables.items()}


def nopic_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings object the process in `service` would build from its environment."""
    for key in os.environ:
        if key.startswith("NOPIC_"):
            monkeypatch.delenv(key)
    for key, value in environment(service).items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_compose_file_has_the_stack() -> None:
    assert set(SERVICES) == {
        "postgres",
        "temporal-schema",
        "temporal",
        "temporal-setup",
        "temporal-ui",
        "migrate",
        "worker",
        "api",
        "oid-sandbox",
        "mailpit",
        "prometheus",
    }
    assert NOPIC_SERVICES == {"migrate", "worker", "api", "oid-sandbox"}


def run_once(name: str) -> bool:
    return SERVICES[name].get("restart") == "no" and "healthcheck" not in SERVICES[name]


def test_every_service_is_health_checked_or_runs_once() -> None:
    for name, service in SERVICES.items():
        if run_once(name):
            continue
        check = service.get("healthcheck")
        assert check and check["test"][0] in ("CMD", "CMD-SHELL"), f"{name} has no health check"
        assert service.get("restart") == "unless-stopped", name


def test_start_order_is_declared_with_conditions_everywhere() -> None:
    for name, service in SERVICES.items():
        depends_on = service.get("depends_on")
        if name in ROOTS:
            assert depends_on is None, name
            continue
        assert isinstance(depends_on, dict) and depends_on, f"{name} declares no start order"
        for other, rule in depends_on.items():
            assert other in SERVICES, f"{name} depends on unknown {other}"
            if rule["condition"] == "service_healthy":
                assert "healthcheck" in SERVICES[other], f"{name} waits for {other}, never health-checked"
            else:
                assert rule["condition"] == "service_completed_successfully", name
                assert run_once(other), f"{name} waits for {other} to complete, but it keeps running"
            # Only services of a profile may be missing; waiting on them must then be optional.
            assert rule.get("required", True) == ("profiles" not in SERVICES[other]), (name, other)


def test_profiles_keep_development_and_metrics_services_out_by_default() -> None:
    profiles = {name: service.get("profiles") for name, service in SERVICES.items() if "profiles" in service}
    assert profiles == {"oid-sandbox": ["dev"], "mailpit": ["dev"], "prometheus": ["metrics"]}


def test_every_nopic_variable_is_a_setting_and_every_container_gets_what_it_needs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in NOPIC_SERVICES:
        variables = [key for key in environment(name) if key.startswith("NOPIC_")]
        unknown = {v for v in variables if v.removeprefix("NOPIC_").lower() not in Settings.model_fields}
        assert not unknown, f"{name} sets variables that are no setting: {unknown}"
        settings = nopic_settings(name, monkeypatch)  # every value valid, too
        assert settings.home == Path("/var/lib/nopic"), name
        assert settings.log_format == "json", name

    for name in ("migrate", "worker", "api"):
        settings = nopic_settings(name, monkeypatch)
        assert settings.database_url is not None and urlsplit(settings.database_url).hostname == "postgres"
        assert settings.temporal_address == "temporal:7233", name
        # Processes of the stack never start their own Temporal, mail sink or OID sandbox.
        assert not settings.oid_sandbox and not settings.smtp_sink, name

    worker = nopic_settings("worker", monkeypatch)
    assert worker.worker_host == "0.0.0.0"
    assert worker.worker_health_port is not None and worker.worker_metrics_port is not None
    assert nopic_settings("api", monkeypatch).http_host == "0.0.0.0"
    assert nopic_settings("oid-sandbox", monkeypatch).oid_sandbox_host == "0.0.0.0"


def published(service: str) -> list[int]:
    """The container ports a service publishes (`[host_ip:]host_port:container_port`)."""
    return [int(interpolate(str(port)).rsplit(":", 1)[1]) for port in SERVICES[service].get("ports", [])]


def test_ports_agree_with_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    api = nopic_settings("api", monkeypatch)
    worker = nopic_settings("worker", monkeypatch)
    assert published("api") == [DEFAULTS.http_port] and api.http_port == DEFAULTS.http_port
    assert published("oid-sandbox") == [DEFAULTS.oid_sandbox_port]
    assert urlsplit(worker.oid_url).port == DEFAULTS.oid_sandbox_port
    assert urlsplit(worker.oid_url).hostname == "oid-sandbox"
    assert worker.temporal_address == f"temporal:{DEFAULTS.temporal_port}"
    assert published("temporal") == [DEFAULTS.temporal_port]

    mail_smtp = environment("mailpit")["MP_SMTP_BIND_ADDR"]
    assert worker.smtp_host == "mailpit" and mail_smtp.endswith(f":{worker.smtp_port}")

    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert jobs["nopic-api"]["static_configs"][0]["targets"] == [f"api:{DEFAULTS.http_port}"]
    # One target per worker replica: DNS service discovery on the service name, at the metrics port.
    assert jobs["nopic-worker"]["dns_sd_configs"][0] == {
        "names": ["worker"],
        "type": "A",
        "port": worker.worker_metrics_port,
    }


def settings_with(service: str, dotenv: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings of `service`'s process when the operator's .env holds `dotenv`."""
    for key in os.environ:
        if key.startswith("NOPIC_"):
            monkeypatch.delenv(key)
    for key, value in (SERVICES[service].get("environment") or {}).items():
        monkeypatch.setenv(key, interpolate(str(value), dotenv))
    return Settings(_env_file=None)  # type: ignore[call-arg]


def test_production_issues_by_hand_with_no_oid_endpoint_and_api_mode_goes_through_the_dev_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Out of the box (no dev profile): staff create and cancel NOPICs in OID, a reviewer confirms both
    # operations; the workflow then calls nothing of OID, so no OID endpoint need answer.
    for service in ("worker", "api"):
        production = settings_with(service, {}, monkeypatch)
        policy = policy_from_settings(production)
        assert policy.issuance_mode is IssuanceMode.MANUAL, service
        assert policy.operations_check is OperationsSource.REVIEWER, service
        assert production.oid_data_key is None and production.oid_sandbox is False
    assert SERVICES["worker"]["depends_on"]["oid-sandbox"]["required"] is False
    # With a public data key, the check asks OID's operation data; still no gateway needed.
    keyed = settings_with("worker", {"NOPIC_OID_DATA_KEY": "k", "NOPIC_OID_DATA_URL": USDA_DATA}, monkeypatch)
    assert policy_from_settings(keyed).operations_check is OperationsSource.OID
    assert keyed.oid_data_service_url == USDA_DATA
    # `api` mode with the dev profile: the gateway is the sandbox service, and it answers the check too.
    api = settings_with("worker", {"NOPIC_ISSUANCE_MODE": "api"}, monkeypatch)
    assert policy_from_settings(api).issuance_mode is IssuanceMode.API
    assert policy_from_settings(api).operations_check is OperationsSource.OID
    assert urlsplit(api.oid_url).hostname == "oid-sandbox" and SERVICES["oid-sandbox"]["profiles"] == ["dev"]


USDA_DATA = "https://organicapi.ams.usda.gov/IntegrityPubDataServices/OidPublicDataService.svc"


def test_the_worker_s_cache_and_task_slots_are_the_measured_defaults_unless_the_operator_sizes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = ("worker_max_cached_workflows", "worker_max_concurrent_workflow_tasks")
    production = settings_with("worker", {}, monkeypatch)
    assert [getattr(production, name) for name in names] == [getattr(DEFAULTS, name) for name in names]
    sized = settings_with("worker", {"NOPIC_WORKER_MAX_CACHED_WORKFLOWS": "2000"}, monkeypatch)
    assert sized.worker_max_cached_workflows == 2000
    # The example's commented-out lines show the same defaults.
    example = dict(
        line.removeprefix("# ").split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.startswith("# NOPIC_WORKER_MAX_")
    )
    shown = {name: "" if getattr(DEFAULTS, name) is None else str(getattr(DEFAULTS, name)) for name in names}
    assert example == {f"NOPIC_{name.upper()}": value for name, value in shown.items()}


def test_the_worker_scales_out() -> None:
    worker = SERVICES["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert not any("container_name" in service for service in SERVICES.values())


def test_each_command_of_the_image_is_an_entry_point() -> None:
    commands = set(typer.main.get_command(cli_app).commands)  # type: ignore[attr-defined]
    probed = {member.value for member in Probed}
    for name in NOPIC_SERVICES:
        service = SERVICES[name]
        assert service["command"][0] in commands, name
        if "healthcheck" in service:
            test = service["healthcheck"]["test"]
            assert test[:3] == ["CMD", "nopic", "probe"] and test[3] in probed, name
    assert {"api", "worker", "migrate", "oid-sandbox", "smtp-sink"} <= commands


def test_images_are_pinned() -> None:
    for name, service in SERVICES.items():
        image = interpolate(service["image"])
        if name in NOPIC_SERVICES:
            continue  # built from this repository
        tag = image.partition(":")[2]
        assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: {image} is not pinned"
    server_version = SERVICES["temporal"]["image"].split(":")[1]
    assert SERVICES["temporal-schema"]["image"] == f"temporalio/admin-tools:{server_version}"
    assert SERVICES["temporal-setup"]["image"] == f"temporalio/admin-tools:{server_version}"
    assert SERVICES["postgres"]["image"].startswith("postgres:16.")


def test_postgres_keeps_every_database_in_a_named_volume() -> None:
    assert "pgdata:/var/lib/postgresql/data" in SERVICES["postgres"]["volumes"]
    assert "pgdata" in COMPOSE["volumes"]
    init = (ROOT / "deploy" / "postgres" / "init-databases.sh").read_text()
    assert "CREATE DATABASE nopic OWNER nopic" in init and "CREATE ROLE temporal LOGIN CREATEDB" in init
    schema = (ROOT / "deploy" / "temporal" / "setup-schema.sh").read_text()
    assert "temporal:temporal temporal_visibility:visibility" in schema
    temporal = environment("temporal")
    assert (temporal["DB"], temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]) == (
        "postgres12",
        "temporal",
        "temporal_visibility",
    )


def test_every_mounted_file_exists() -> None:
    for name, service in SERVICES.items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).is_file(), f"{name} mounts missing {source}"
            else:
                assert source in COMPOSE["volumes"], f"{name} uses undeclared volume {source}"


def compose_search_attributes() -> dict[str, str]:
    pairs = environment("temporal-setup")["SEARCH_ATTRIBUTES"].split()
    return dict(pair.split("=", 1) for pair in pairs)


def test_compose_creates_exactly_the_workflows_search_attributes() -> None:
    kinds = {"KEYWORD": "Keyword", "DATETIME": "Datetime", "BOOL": "Bool"}
    expected = {key.name: kinds[key.indexed_value_type.name] for key in SEARCH_ATTRIBUTES}
    assert compose_search_attributes() == expected


@pytest.mark.skipif(shutil.which("sh") is None, reason="needs a POSIX shell")
async def test_namespace_script_sets_up_a_bare_server(tmp_path: Path) -> None:
    """deploy/temporal/setup-namespace.sh, run as compose runs it, against a server that has nothing yet."""
    server = await WorkflowEnvironment.start_local(
        dev_server_existing_path=find_binary("temporal"), dev_server_log_level="error", namespace="default"
    )
    try:
        env = {
            "PATH": os.pathsep.join([str(Path(find_binary("temporal")).parent), os.environ["PATH"]]),
            **environment("temporal-setup"),
            "TEMPORAL_ADDRESS": server.client.service_client.config.target_host,
            "NAMESPACE": "nopic-compose-test",
        }
        for _ in range(2):  # the second start finds everything in place and changes nothing
            process = await asyncio.create_subprocess_exec(
                "sh",
                str(ROOT / "deploy" / "temporal" / "setup-namespace.sh"),
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            output, _ = await asyncio.wait_for(process.communicate(), 120)
            assert process.returncode == 0, output.decode()

        answer = await server.client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace="nopic-compose-test")
        )
        created = {
            name: IndexedValueType.Name(kind).removeprefix("INDEXED_VALUE_TYPE_")
            for name, kind in answer.custom_attributes.items()
        }
        expected = {key.name: key.indexed_value_type.name for key in SEARCH_ATTRIBUTES}
        assert {name: created[name] for name in expected if name in created} == expected
        assert set(expected) <= set(created)
    finally:
        await server.shutdown()


# --- Dockerfile ------------------------------------------------------------------------------------------

DOCKERFILE = [
    line.strip()
    for line in (ROOT / "Dockerfile").read_text().splitlines()
    if line.strip() and not line.strip().startswith("#")
]


def instructions(keyword: str) -> list[str]:
    return [line.split(None, 1)[1] for line in DOCKERFILE if line.split(None, 1)[0].upper() == keyword]


def test_dockerfile_base_is_pinned_slim_python() -> None:
    bases = [line.split()[0] for line in instructions("FROM")]
    assert bases and all(base == "python:3.11-slim-bookworm" for base in bases)


def test_dockerfile_runs_as_an_unprivileged_user_with_nopic_as_entry_point() -> None:
    users = instructions("USER")
    assert users and users[-1] not in ("root", "0")
    last_user = max(i for i, line in enumerate(DOCKERFILE) if line.upper().startswith("USER "))
    entry = max(i for i, line in enumerate(DOCKERFILE) if line.upper().startswith("ENTRYPOINT "))
    assert last_user < entry
    assert instructions("ENTRYPOINT") == ['["nopic"]']


def test_dockerfile_installs_every_package_of_the_project() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = pyproject["tool"]["setuptools"]
    packages = [pattern.rstrip("*") for pattern in setuptools["packages"]["find"]["include"]]
    modules = [f"{module}.py" for module in setuptools["py-modules"]]
    copied = " ".join(instructions("COPY"))
    for needed in [*packages, *modules, "pyproject.toml", "README.md"]:
        assert re.search(rf"(^|\s){re.escape(needed)}(\s|$)", copied), f"the image lacks {needed}"


def test_dockerfile_installs_the_service_lock_with_hashes_and_no_dev_package() -> None:
    """requirements.txt's versions, hashes required, nothing else, with uv at the Makefile's version; then the
    project alone, built by the dev lock's setuptools (the build constraint, never installed from)."""
    uv_version = re.search(r"^UV_VERSION := (\S+)$", (ROOT / "Makefile").read_text(), re.MULTILINE)
    assert uv_version
    runs = instructions("RUN")
    assert any(re.search(rf"(^|&& )pip install uv=={re.escape(uv_version[1])}($| &&)", run) for run in runs)
    assert not any(re.search(r"(?<!uv )pip install (?!uv==)", run) for run in runs), "an install beside uv's"
    build_stage = (ROOT / "Dockerfile").read_text().split("\nFROM ")[1]
    assert re.search(r"^\s*(ENV )?VIRTUAL_ENV=/opt/nopic\b", build_stage, re.MULTILINE), "no venv for uv"
    # `uv pip sync` leaves a venv's pip and setuptools in place: none there to begin with.
    assert any(re.match(r"python -m venv --without-pip /opt/nopic($| &&)", run) for run in runs)
    # Every uv install in the image: one exact sync of the service lock, one of the project without deps.
    installs = [
        (i, command.strip())
        for i, line in enumerate(DOCKERFILE)
        if line.upper().startswith("RUN ")
        for command in line.split(None, 1)[1].split("&&")
        if re.match(r"uv pip (sync|install)\b", command.strip())
    ]
    assert [command for _, command in installs] == [
        "uv pip sync --require-hashes requirements.txt",
        "uv pip install --no-deps --build-constraints requirements-dev.txt .",
    ]
    (sync, _), (project, _) = installs
    assert any("uv pip check" in run for run in runs)
    # The lock comes in before the sync, alone (its layer rebuilds only when it changes); the project's own
    # files and the build constraint before the project's install.
    final_stage = max(i for i, line in enumerate(DOCKERFILE) if line.upper().startswith("FROM "))
    copies = [i for i, line in enumerate(DOCKERFILE[:final_stage]) if line.upper().startswith("COPY ")]
    before_sync = [DOCKERFILE[i].split()[1:-1] for i in copies if i < sync]
    assert before_sync == [["requirements.txt"]]
    assert max(copies) < project < final_stage
    assert any("requirements-dev.txt" in DOCKERFILE[i].split() for i in copies if sync < i < project)
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert "requirements.txt" not in ignored and "requirements-dev.txt" not in ignored


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".uv", ".nopic", ".env"} <= ignored


def test_env_example_sets_every_required_compose_variable() -> None:
    example = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
    compose = yaml.safe_dump(COMPOSE)
    required = {match["name"] for match in _INTERPOLATION.finditer(compose) if match["op"] == "?"}
    assert required <= set(example)
    # With only the example's values, every value in the compose file resolves.
    resolved = interpolate((ROOT / "docker-compose.yml").read_text(), example)
    assert "${" not in resolved and "<" not in re.sub(r"<<:", "", resolved)


def test_readme_production_section_covers_running_scaling_backups_upgrades_and_cloud() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Production\n", 1)[1].split("\n## ", 1)[0]
    for needed in (
        "docker compose up -d",
        "--profile dev",
        "--scale worker=",
        "pgdata",
        "pg_dump",
        "tests/histories/",
        "workflow.patched",
        "NOPIC_TEMPORAL_API_KEY",
        "NOPIC_TEMPORAL_TLS_CERT",
        "NOPIC_TEMPORAL_TLS_KEY",
    ):
        assert needed in section, needed


async def test_the_installed_project_has_every_data_file_of_its_packages(tmp_path: Path) -> None:
    """The Dockerfile's install of the project (a wheel, `--no-editable`) copies only what the packaging rules
    name: the image would lack a template, migration or data file those rules forget, although every test here
    (on an editable install) passes. setuptools' build_py (the lock's setuptools, the one the image builds
    with), on a copy of the project, shows exactly what an install gets."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    source = tmp_path / "project"
    source.mkdir()
    for name in ["pyproject.toml", "README.md", "worker.py"]:
        shutil.copy(ROOT / name, source / name)
    for package in packages:
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from setuptools import setup; setup()",
        "--quiet",
        "build_py",
        "--build-lib",
        str(tmp_path / "installed"),
        cwd=source,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == 0, output.decode()

    def files(root: Path) -> set[str]:
        return {
            str(path.relative_to(root))
            for package in packages
            for path in (root / package).rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }

    assert files(source) == files(tmp_path / "installed")


def test_the_mtls_override_applies_to_the_stacks_services_with_the_services_settings() -> None:
    override = yaml.safe_load((ROOT / "deploy" / "temporal" / "docker-compose.mtls.yml").read_text())
    services: dict[str, dict[str, Any]] = override["services"]
    assert set(services) <= set(SERVICES)
    assert {"temporal", "worker", "api"} <= set(services)
    assert services["temporal"]["environment"]["TEMPORAL_TLS_REQUIRE_CLIENT_AUTH"] == "true"
    for name in ("worker", "api"):
        variables = services[name]["environment"]
        assert {k.removeprefix("NOPIC_").lower() for k in variables} <= set(Settings.model_fields), name
        assert variables["NOPIC_TEMPORAL_TLS_CERT"].startswith("/run/secrets/temporal/")
        # The override's volumes replace none of the service's own: the data volume stays mounted.
        assert "nopic-data:/var/lib/nopic" in services[name]["volumes"]
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert "secrets" in ignored, "the certificates' keys never go into the image"
