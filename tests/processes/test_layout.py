"""Each top-level package keeps to its job: the imports between them run the way the README's layout says."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.dirs import REPO

PACKAGES = ("core", "domain", "workflows", "activities", "starter", "web", "devstack", "bench")
# What each package may import of the others (itself always).
ALLOWED: dict[str, set[str]] = {
    "domain": set(),
    "core": {"domain"},
    "workflows": {"domain", "activities"},
    "activities": {"domain", "core"},
    "starter": {"domain", "core", "workflows", "activities", "web", "devstack", "worker"},
    "web": {"domain", "core", "activities", "starter"},
    "devstack": {"domain", "core", "activities", "web", "workflows"},
    "worker": {"domain", "core", "workflows", "activities", "starter"},
    "bench": set(PACKAGES) | {"worker", "tests"},
}


def modules() -> Iterator[tuple[str, Path]]:
    yield "worker", REPO / "worker.py"
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            yield package, path


def imports(path: Path) -> Iterator[tuple[str, list[str]]]:
    """(module, names) of every absolute import of the file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module, [alias.name for alias in node.names]


@pytest.mark.parametrize(("package", "path"), list(modules()), ids=lambda v: str(v))
def test_imports_run_the_way_of_the_layout(package: str, path: Path) -> None:
    for module, names in imports(path):
        top = module.split(".")[0]
        if top not in ALLOWED or top == package:
            continue  # a library, or the package itself
        where = path.relative_to(REPO)
        assert top in ALLOWED[package], f"{where} imports {module}: {package} may not import {top}"
        private = [n for n in names if n.startswith("_") and not n.startswith("__")]
        assert not private, f"{where} imports the private {private} of {module}"
