"""`nopic up` starts the OID sandbox and the SMTP sink unless settings point at real ones."""

from __future__ import annotations

from core.settings import Settings
from devstack.supervisor import children


def test_the_local_stand_ins_start_before_the_worker() -> None:
    entries = children(Settings(oid_sandbox_port=18100, smtp_port=18025))
    assert [(child.name, child.dependency) for child in entries] == [
        ("temporal", True),
        ("oid_sandbox", True),
        ("smtp_sink", True),
        ("worker", False),
        ("api", False),
    ]
    sandbox, sink = children(Settings(oid_sandbox_port=18100, smtp_port=18025))[1:3]
    assert sandbox.argv[-2:] == ["-m", "devstack.oid_sandbox"]
    assert [port.number for port in sandbox.ports] == [18100]
    assert sink.argv[-2:] == ["-m", "devstack.smtp_sink"]
    assert [(port.number, port.variable) for port in sink.ports] == [(18025, "NOPIC_SMTP_PORT")]


def test_real_smtp_and_oid_need_no_stand_ins() -> None:
    settings = Settings(oid_sandbox=False, smtp_sink=False, temporal_address="temporal.example:7233")
    assert [child.name for child in children(settings)] == ["worker", "api"]
