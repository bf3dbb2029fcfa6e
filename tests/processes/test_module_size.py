"""No module of the service grows past what one sitting can read: one that needs more is split by role."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.dirs import REPO

LIMIT = 450
PACKAGES = ("workflows", "domain", "activities", "starter", "web", "devstack", "core")
MODULES = sorted(path for package in PACKAGES for path in (REPO / package).rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda path: str(path.relative_to(REPO)))
def test_module_stays_readable(path: Path) -> None:
    lines = path.read_text().count("\n")
    assert lines <= LIMIT, f"{path} has {lines} lines; split it by role (the limit is {LIMIT})"
