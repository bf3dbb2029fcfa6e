"""`python -m devstack.oid_sandbox` or `nopic oid-sandbox`: serve the OID sandbox on
$NOPIC_OID_SANDBOX_HOST:$NOPIC_OID_SANDBOX_PORT, state under home."""

from __future__ import annotations

import uvicorn

from core.logging import configure_logging
from core.settings import get_settings
from devstack.oid_sandbox.app import SandboxConfig, create_app


def main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)
    app = create_app(SandboxConfig.from_settings(settings))
    uvicorn.run(app, host=settings.oid_sandbox_host, port=settings.oid_sandbox_port, log_config=None)


if __name__ == "__main__":
    main()
