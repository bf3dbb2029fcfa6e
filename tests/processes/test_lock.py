"""The lock: requirements.txt (the service) and requirements-dev.txt (the service with the dev extra) pin
every dependency, direct and transitive, at one version with sha256 hashes, name no index, and agree with
pyproject.toml.

`make` makes `.venv` exactly requirements-dev.txt (`uv pip sync --require-hashes`), the Dockerfile the image
exactly requirements.txt: a pyproject change that was not locked again must fail here, not install something
else on the next fresh machine. Nothing here asks an index (uv's `pip compile` has no offline check, and
needs an index's metadata for the platforms this one is not): the closure test follows the metadata of the
packages installed in `.venv` instead, which covers this platform; `make lock` resolves for all of them.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import Specifier
from packaging.utils import canonicalize_name
from packaging.version import Version

from tests.support.dirs import REPO

ROOT = REPO
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
MAKEFILE = (ROOT / "Makefile").read_text()
LOCK_FILES = {"service": ROOT / "requirements.txt", "dev": ROOT / "requirements-dev.txt"}
HASH = re.compile(r"--hash=sha256:[0-9a-f]{64}")
# What would name an index or a file's host: a URL, an index option, or a host name (any registry's is one
# of these domains).
HOST = re.compile(
    r"://|--(extra-)?index-url|--find-links|--trusted-host|\b[a-z0-9-]+\.(org|com|net|io|dev)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Pin:
    requirement: Requirement
    hashes: tuple[str, ...]

    @property
    def version(self) -> Version:
        (specifier,) = self.requirement.specifier
        return Version(specifier.version)

    def applies_here(self) -> bool:
        marker = self.requirement.marker
        return marker is None or marker.evaluate()


def entries(text: str) -> list[str]:
    """The file's requirements, each with its options on one line; comments and blank lines left out."""
    joined = re.sub(r"\\\n", " ", text)
    lines = (line.strip() for line in joined.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def read_pins(path: Path) -> dict[str, Pin]:
    pins: dict[str, Pin] = {}
    for entry in entries(path.read_text()):
        assert re.match(r"[A-Za-z0-9]", entry), f"{path.name}: not a requirement: {entry[:80]}"
        requirement_text, *options = re.split(r"\s+(?=--)", entry)
        requirement = Requirement(requirement_text)
        name = canonicalize_name(requirement.name)
        assert options and all(HASH.fullmatch(option) for option in options), (
            f"{path.name}: {name} has options other than sha256 hashes, or no hash: {options}"
        )
        specifiers = list(requirement.specifier)
        assert requirement.url is None and not requirement.extras, (path.name, name)
        assert len(specifiers) == 1 and specifiers[0].operator == "==", (path.name, requirement)
        assert "*" not in specifiers[0].version, (path.name, name)
        assert name not in pins, f"{path.name} pins {name} twice"
        pins[name] = Pin(requirement, tuple(options))
    return pins


@functools.cache
def pins(lock: str) -> dict[str, Pin]:
    return read_pins(LOCK_FILES[lock])


def direct(lock: str) -> list[Requirement]:
    """What pyproject asks for: the service's requirements, and the dev extra's too for the dev lock."""
    project = PYPROJECT["project"]
    groups = [project["dependencies"], *([project["optional-dependencies"]["dev"]] if lock == "dev" else [])]
    return [Requirement(text) for group in groups for text in group]


def needed_here(roots: Iterable[Requirement]) -> dict[str, str]:
    """Every distribution that `roots` need on this interpreter, extras followed, with its installed version:
    the installed packages' own metadata (Requires-Dist) says what each needs."""
    extras_of: dict[str, set[str]] = {}
    applying = [root for root in roots if root.marker is None or root.marker.evaluate()]
    pending = [(canonicalize_name(root.name), set(root.extras)) for root in applying]
    versions: dict[str, str] = {}
    while pending:
        name, extras = pending.pop()
        if name in extras_of and extras <= extras_of[name]:
            continue
        extras_of[name] = extras_of.get(name, set()) | extras
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"{name} is needed but not installed: missing from the lock, or `make` has not run")
        versions[name] = distribution.version
        for text in distribution.requires or []:
            requirement = Requirement(text)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in {"", *extras_of[name]}):
                pending.append((canonicalize_name(requirement.name), set(requirement.extras)))
    return versions


def make_variable(name: str) -> str:
    """A `NAME := value` of the Makefile, continuation lines joined."""
    match = re.search(rf"^{name} := ((?:.*\\\n)*.*)$", MAKEFILE, re.MULTILINE)
    assert match, f"no {name} in the Makefile"
    return re.sub(r"\\\n\s*", " ", match[1])


def make_recipe(target: str) -> tuple[list[str], list[str]]:
    """A rule's prerequisites and recipe lines."""
    rule = re.search(rf"^{re.escape(target)}:(.*)\n((?:\t.*\n)+)", MAKEFILE, re.MULTILINE)
    assert rule, f"no {target} rule in the Makefile"
    return rule[1].split(), [line.strip() for line in rule[2].splitlines()]


@pytest.mark.parametrize("lock", LOCK_FILES)
def test_every_pin_is_one_exact_version_with_sha256_hashes(lock: str) -> None:
    """read_pins checks each line; here: the files are uv's output, and hold something."""
    text = LOCK_FILES[lock].read_text()
    assert text.startswith("# This file was autogenerated by uv via the following command:\n#    make lock\n")
    assert pins(lock) and all(pin.hashes for pin in pins(lock).values())


@pytest.mark.parametrize("lock", LOCK_FILES)
def test_the_lock_names_no_index_and_no_host(lock: str) -> None:
    for number, line in enumerate(LOCK_FILES[lock].read_text().splitlines(), 1):
        assert not HOST.search(line), f"{LOCK_FILES[lock].name}:{number}: {line}"


@pytest.mark.parametrize("lock", LOCK_FILES)
def test_every_pyproject_dependency_is_pinned_at_a_version_pyproject_allows(lock: str) -> None:
    for requirement in direct(lock):
        name = canonicalize_name(requirement.name)
        assert name in pins(lock), f"{name} is not in {LOCK_FILES[lock].name} (`make lock`)"
        version = pins(lock)[name].version
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{LOCK_FILES[lock].name} pins {name}=={version}, pyproject asks for {requirement} (`make lock`)"
        )


@pytest.mark.parametrize("lock", LOCK_FILES)
def test_the_lock_holds_exactly_what_the_project_needs_here_at_the_installed_versions(lock: str) -> None:
    """Offline: following the installed packages' metadata from pyproject's requirements reaches exactly the
    lock's packages for this platform (a transitive dependency missing, or one left over, fails), at the
    versions installed. For the service lock, this is also: no dev package reaches the image."""
    needed = needed_here(direct(lock))
    pinned = {name: pin for name, pin in pins(lock).items() if pin.applies_here()}
    assert set(needed) == set(pinned), (
        f"{LOCK_FILES[lock].name}: needed but not pinned {sorted(set(needed) - set(pinned))}, "
        f"pinned but not needed {sorted(set(pinned) - set(needed))} (`make lock`)"
    )
    for name, version in needed.items():
        assert Version(version) == pinned[name].version, (
            f"{name} {version} is installed, {LOCK_FILES[lock].name} pins {pinned[name].version} (`make`)"
        )


def test_the_service_lock_is_the_dev_locks_service_part() -> None:
    """The image runs the versions `make test` tests: each service pin is the dev lock's."""
    service, dev = pins("service"), pins("dev")
    assert set(service) < set(dev)
    for name, pin in service.items():
        assert pin.version == dev[name].version, (name, pin.version, dev[name].version)


def test_the_build_backend_is_pinned_with_hashes_by_the_dev_lock() -> None:
    """Builds of the project (make's editable install, the image's wheel, the data-file test in
    test_deploy_files.py) use the dev lock's setuptools: the build constraint is the dev lock."""
    for requirement in map(Requirement, PYPROJECT["build-system"]["requires"]):
        name = canonicalize_name(requirement.name)
        assert name in pins("dev"), f"the build needs {name}, which requirements-dev.txt does not pin"
        assert requirement.specifier.contains(pins("dev")[name].version), (name, pins("dev")[name].version)


def test_make_installs_exactly_the_dev_lock_and_again_when_a_lock_changes() -> None:
    assert make_variable("LOCK") == "requirements.txt"
    assert make_variable("DEV_LOCK") == "requirements-dev.txt"
    prerequisites, recipe = make_recipe("$(STAMP)")
    assert {"pyproject.toml", "$(LOCK)", "$(DEV_LOCK)", "$(UV)"} <= set(prerequisites)
    installs = [line for line in recipe if re.search(r"\bpip (install|sync)\b", line)]
    assert len(installs) == 2, installs
    sync, project = installs
    assert re.search(r"\$\(UV\) pip sync .*--require-hashes \$\(DEV_LOCK\)$", sync)
    assert re.search(r"\$\(UV\) pip install .*--no-deps --build-constraints \$\(DEV_LOCK\) -e \.$", project)
    assert any(re.search(r"\$\(UV\) pip check\b", line) for line in recipe)
    assert re.search(r"^\t.*pip install --quiet uv==\$\(UV_VERSION\)$", MAKEFILE, re.MULTILINE)


def test_make_lock_writes_both_files_with_hashes_and_no_index() -> None:
    compile_command = make_variable("UV_COMPILE").split()
    assert compile_command[:4] == ["$(UV)", "pip", "compile", "--quiet"]
    assert {"pyproject.toml", "--universal", "--generate-hashes"} <= set(compile_command)
    assert not any(option.startswith("--emit-") for option in compile_command)
    # The universal resolution starts at the oldest Python the project allows.
    python = compile_command[compile_command.index("--python-version") + 1]
    assert Specifier(PYPROJECT["project"]["requires-python"]) == Specifier(f">={python}")

    _, recipe = make_recipe("lock")
    assert len(recipe) == 2, recipe
    dev, service = recipe
    assert "$(UV_COMPILE) --extra dev" in dev and dev.endswith("-o $(DEV_LOCK)")
    assert "--upgrade-package $(package)" in dev
    assert "--extra" not in service and service.endswith("--constraints $(DEV_LOCK) -o $(LOCK)")


def test_the_installed_dependencies_come_compiled_to_bytecode() -> None:
    # Where PYTHONDONTWRITEBYTECODE is set, nothing is compiled once and kept: each process that starts
    # would compile every module it imports again, seconds of CPU per worker or API start.
    import fastapi
    import temporalio.client

    for module in (fastapi, temporalio.client):
        assert module.__file__ is not None
        assert Path(importlib.util.cache_from_source(module.__file__)).is_file(), module.__name__
