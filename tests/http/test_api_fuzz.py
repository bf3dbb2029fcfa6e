"""Property-based fuzzing over the OpenAPI schema (schemathesis): no input makes the API answer 5xx.

Every operation gets generated valid and invalid input, as a reviewer (who may call nearly everything) and
as an admin (users); the examples per operation are bounded so the run takes well under a minute.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from core.binaries import find_binary
from tests.support.stack import ApiStack, Person, complete_request, wait_for

pytestmark = pytest.mark.asyncio(loop_scope="session")

MAX_EXAMPLES = 10


async def schemathesis(
    stack: ApiStack, person: Person, folder: Path, parameters: dict[str, str], *select: str
) -> tuple[int, str]:
    # Path parameters that name a real request, certificate and document, so the generated calls reach the
    # workflow instead of stopping at "not found".
    config = folder / "schemathesis.toml"
    config.write_text("[parameters]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in parameters.items()))
    process = await asyncio.create_subprocess_exec(
        find_binary("st"),
        "--config-file",
        str(config),
        "run",
        f"{stack.url}/openapi.json",
        "--checks",
        "not_a_server_error",
        "--phases",
        "examples,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        "20261128",
        "--generation-database",
        "none",
        "--workers",
        "2",
        "--request-timeout",
        "30",
        # How fast examples are generated says something of the machine's load, nothing of the API.
        "--suppress-health-check",
        "too_slow",
        "--no-color",
        "--report-dir",
        str(folder / "report"),
        "--header",
        f"Authorization: Bearer {person.token}",
        *select,
        cwd=folder,  # schemathesis keeps a cache in its working directory
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return process.returncode or 0, output.decode(errors="replace")


async def test_no_generated_input_makes_the_api_fail_with_5xx(stack: ApiStack, tmp_path: Path) -> None:
    issued = await complete_request(stack, "fuzz")
    async with stack.client(stack.reviewer) as http:
        await http.post(f"/requests/{issued['id']}/actions/approve", json={})
        state = await wait_for(http, issued["id"], "awaiting_transport_document")
    parameters = {
        "path.request_id": issued["id"],
        "path.nopic": state["certificates"][0]["number"],
        "path.sha256": state["form"]["documents"][0]["sha256"],
        "path.username": stack.other_exporter.username,
    }
    code, output = await schemathesis(
        stack, stack.reviewer, tmp_path, parameters, "--exclude-path-regex", "^/users"
    )
    assert code == 0, output[-6000:]
    code, output = await schemathesis(
        stack, stack.admin, tmp_path, parameters, "--include-path-regex", "^/users|^/me"
    )
    assert code == 0, output[-6000:]
