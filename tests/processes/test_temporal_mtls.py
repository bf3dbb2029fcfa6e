"""The README's mTLS certificates, made as written, and the service's Temporal client using them: through a
frontend that requires a client certificate signed by the cluster's CA, the service's own gets in and a
client without one is refused.

The Temporal dev server speaks plain gRPC; here a TLS front (Python's ssl, client certificates required,
HTTP/2 by ALPN) stands before it, as the compose server's frontend does with the override's settings.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import subprocess
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from core.settings import Settings
from core.temporal import connect
from tests.support.dirs import REPO

MARKER = "<!-- temporal-mtls"


def readme_block() -> str:
    after = (REPO / "README.md").read_text().split(MARKER, 1)[1].split("\n", 1)[1]
    lines: list[str] = []
    for line in after.splitlines():
        if line.startswith("    "):
            lines.append(line[4:])
        elif line.strip() and lines:
            break
    return "\n".join(lines)


@contextlib.asynccontextmanager
async def tls_front(target: str, certificates: Path) -> AsyncIterator[int]:
    """A TLS front for `target` that requires a client certificate signed by the CA in `certificates`."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    context.load_verify_locations(certificates / "ca.pem")
    context.verify_mode = ssl.CERT_REQUIRED
    context.set_alpn_protocols(["h2"])
    host, port = target.rsplit(":", 1)

    async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def serve(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(host, int(port))
        await asyncio.gather(relay(client_reader, server_writer), relay(server_reader, client_writer))

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=context)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def test_the_readme_certificates_let_the_service_in_and_keep_others_out(
    dev_server_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    made = await asyncio.to_thread(
        subprocess.run, ["bash", "-euc", readme_block()], cwd=tmp_path, capture_output=True, text=True
    )
    assert made.returncode == 0, made.stderr
    certificates = tmp_path / "secrets" / "temporal"
    made_names = {p.name for p in certificates.iterdir()}
    for name in ("ca", "server", "nopic", "operator"):
        assert {f"{name}.pem", f"{name}.key"} <= made_names
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in certificates.glob("*.key"))

    target = dev_server_env.client.service_client.config.target_host
    async with tls_front(target, certificates) as port:
        service = Settings(
            temporal_address=f"127.0.0.1:{port}",
            temporal_namespace=dev_server_env.client.namespace,
            temporal_tls_cert=certificates / "nopic.pem",
            temporal_tls_key=certificates / "nopic.key",
            temporal_tls_ca=certificates / "ca.pem",
            temporal_tls_server_name="temporal",
        )
        client = await connect(service)
        assert await client.service_client.check_health(timeout=timedelta(seconds=10))

        stranger = service.model_copy(update={"temporal_tls_cert": None, "temporal_tls_key": None})
        with pytest.raises(RuntimeError, match="Failed client connect"):
            await asyncio.wait_for(connect(stranger), 20)  # the front ends the handshake: no certificate
