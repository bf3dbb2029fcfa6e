"""The sandbox's state: one SQLite file, every change in one serialised transaction.

SQLite (stdlib) rather than a JSON file: a crash mid-write never leaves a half-written state, and the
unique idempotency key makes "one NOPIC per commodity" a property of the storage.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from activities.oid_contract import CERTIFIED, Nopic, NopicCreate, Operation
from domain.scope import CertifiedItem

_SCHEMA = """
CREATE TABLE IF NOT EXISTS operations (
    operation_id TEXT PRIMARY KEY,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    operation_id TEXT PRIMARY KEY,
    body         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS nopics (
    seq             INTEGER PRIMARY KEY,
    number          TEXT NOT NULL UNIQUE,
    idempotency_key TEXT NOT NULL UNIQUE,
    request_id      TEXT NOT NULL,
    body            TEXT NOT NULL
);
"""


class SandboxError(Exception):
    """A refusal the HTTP layer turns into a 4xx with this code and detail."""

    def __init__(self, status_code: int, error: str, detail: str) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.error = error
        self.detail = detail


class SandboxStore:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # One connection shared by the request threads, serialised by a lock: the sandbox is small, and
        # serialising makes check-then-insert of an idempotency key atomic.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    # Operations

    def put_operation(self, operation: Operation) -> Operation:
        with self._transaction() as db:
            db.execute(
                "INSERT INTO operations (operation_id, body) VALUES (?, ?) "
                "ON CONFLICT (operation_id) DO UPDATE SET body = excluded.body",
                (operation.operation_id, operation.model_dump_json()),
            )
        return operation

    def get_operation(self, operation_id: str) -> Operation | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM operations WHERE operation_id = ?", (operation_id,)
            ).fetchone()
        return Operation.model_validate_json(row[0]) if row else None

    def list_operations(self) -> list[Operation]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM operations ORDER BY operation_id").fetchall()
        return [Operation.model_validate_json(body) for (body,) in rows]

    def put_items(self, operation_id: str, items: list[CertifiedItem]) -> list[CertifiedItem]:
        """The operation's certified products, replacing those it had."""
        body = json.dumps([item.model_dump(mode="json") for item in items])
        with self._transaction() as db:
            db.execute(
                "INSERT INTO items (operation_id, body) VALUES (?, ?) "
                "ON CONFLICT (operation_id) DO UPDATE SET body = excluded.body",
                (operation_id, body),
            )
        return items

    def get_items(self, operation_id: str) -> list[CertifiedItem]:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM items WHERE operation_id = ?", (operation_id,)
            ).fetchone()
        return [CertifiedItem.model_validate(item) for item in json.loads(row[0])] if row else []

    # NOPICs

    def nopic_for_key(self, idempotency_key: str) -> Nopic | None:
        """The NOPIC this idempotency key created, if it created one."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT body FROM nopics WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
        return Nopic.model_validate_json(row[0]) if row else None

    def create_nopic(self, idempotency_key: str, data: NopicCreate) -> tuple[Nopic, bool]:
        """The NOPIC for this key: the existing one if any, else a new one. True if new."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT body FROM nopics WHERE idempotency_key = ?", (idempotency_key,)
            ).fetchone()
            if row:
                existing = Nopic.model_validate_json(row[0])
                fields = set(NopicCreate.model_fields)
                if NopicCreate.model_validate(existing.model_dump(include=fields)) != data:
                    raise SandboxError(
                        409,
                        "idempotency_key_reused",
                        f"idempotency key {idempotency_key} already created NOPIC {existing.number} "
                        "with different data",
                    )
                return existing, False
            exporter = self._certified_operation(db, data.exporter.operation_id, "exporter")
            self._certified_operation(db, data.importer.operation_id, "importer")
            (seq,) = db.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM nopics").fetchone()
            now = datetime.now(UTC)
            nopic = Nopic(
                **data.model_dump(),
                # The middle part is the exporter's operation ID, the last a running number.
                number=f"{now.year % 1000:03d}-{data.exporter.operation_id}-{seq % 1_000_000:06d}",
                status="issued",
                certifier=exporter.certifier,
                issued_at=now,
            )
            db.execute(
                "INSERT INTO nopics (seq, number, idempotency_key, request_id, body) VALUES (?, ?, ?, ?, ?)",
                (seq, nopic.number, idempotency_key, data.request_id, nopic.model_dump_json()),
            )
            return nopic, True

    @staticmethod
    def _certified_operation(db: sqlite3.Connection, operation_id: str, role: str) -> Operation:
        row = db.execute("SELECT body FROM operations WHERE operation_id = ?", (operation_id,)).fetchone()
        if row is None:
            raise SandboxError(
                422, f"{role}_not_certified", f"{role} operation {operation_id} is not listed in OID"
            )
        operation = Operation.model_validate_json(row[0])
        if operation.status != CERTIFIED:
            raise SandboxError(
                422,
                f"{role}_not_certified",
                f"{role} operation {operation_id} ({operation.name}) is {operation.status}, not {CERTIFIED}",
            )
        return operation

    def get_nopic(self, number: str) -> Nopic | None:
        with self._lock:
            row = self._db.execute("SELECT body FROM nopics WHERE number = ?", (number,)).fetchone()
        return Nopic.model_validate_json(row[0]) if row else None

    def list_nopics(self, request_id: str | None = None) -> list[Nopic]:
        with self._lock:
            if request_id is None:
                rows = self._db.execute("SELECT body FROM nopics ORDER BY seq").fetchall()
            else:
                rows = self._db.execute(
                    "SELECT body FROM nopics WHERE request_id = ? ORDER BY seq", (request_id,)
                ).fetchall()
        return [Nopic.model_validate_json(body) for (body,) in rows]

    def cancel_nopic(self, number: str, reason: str) -> Nopic:
        """Cancel once; cancelling again returns the certificate as first cancelled."""
        with self._transaction() as db:
            row = db.execute("SELECT body FROM nopics WHERE number = ?", (number,)).fetchone()
            if row is None:
                raise SandboxError(404, "nopic_not_found", f"no NOPIC numbered {number}")
            nopic = Nopic.model_validate_json(row[0])
            if nopic.status == "cancelled":
                return nopic
            nopic = nopic.model_copy(
                update={"status": "cancelled", "cancelled_at": datetime.now(UTC), "cancel_reason": reason}
            )
            db.execute("UPDATE nopics SET body = ? WHERE number = ?", (nopic.model_dump_json(), number))
            return nopic
