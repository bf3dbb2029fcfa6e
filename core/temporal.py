"""The Temporal client factory: every process connects the same way, with the pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter

from core.settings import Settings


async def connect(settings: Settings, *, lazy: bool = False) -> Client:
    """A client for the configured server.

    `lazy` defers the connection to the first call and retries it on every later call: for processes that
    must start, and report Temporal down, while the server is not there yet (the HTTP service's health).
    """
    tls: TLSConfig | bool = False
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
        )
    elif settings.temporal_api_key:
        tls = True
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls,
        data_converter=pydantic_data_converter,
        lazy=lazy,
    )
