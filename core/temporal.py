"""The Temporal client factory: every process connects the same way, with the pydantic data converter."""

from __future__ import annotations

from temporalio.client import Client, TLSConfig
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from core.settings import Settings


async def connect(settings: Settings, *, lazy: bool = False, runtime: Runtime | None = None) -> Client:
    """A client for the configured server.

    `lazy` defers the connection to the first call and retries it on every later call: for processes that
    must start, and report Temporal down, while the server is not there yet (the HTTP service's health).
    `runtime` replaces the SDK's default one, e.g. with `metrics_runtime` for the worker.
    """
    tls: TLSConfig | bool = False
    ca = settings.temporal_tls_ca.read_bytes() if settings.temporal_tls_ca else None
    if settings.temporal_tls_cert and settings.temporal_tls_key:
        # mTLS: the service proves who it is to the frontend, and checks the frontend against the CA.
        tls = TLSConfig(
            client_cert=settings.temporal_tls_cert.read_bytes(),
            client_private_key=settings.temporal_tls_key.read_bytes(),
            server_root_ca_cert=ca,
            domain=settings.temporal_tls_server_name,
        )
    elif ca is not None:
        tls = TLSConfig(server_root_ca_cert=ca, domain=settings.temporal_tls_server_name)
    elif settings.temporal_api_key:
        tls = True
    return await Client.connect(
        settings.temporal_target,
        namespace=settings.temporal_namespace,
        api_key=settings.temporal_api_key,
        tls=tls,
        data_converter=pydantic_data_converter,
        lazy=lazy,
        runtime=runtime,
    )


def metrics_runtime(host: str, port: int) -> Runtime:
    """An SDK runtime that serves its metrics (polls, task latencies, slots, requests) for Prometheus.

    Every client and worker built on it reports there; the SDK's Rust core runs the HTTP listener itself.
    """
    return Runtime(telemetry=TelemetryConfig(metrics=PrometheusConfig(bind_address=f"{host}:{port}")))
