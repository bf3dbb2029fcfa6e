"""The sealed NOPIC PDFs of closed requests, kept in the document store as part of the request's record.

When a request closes, the records activity seals the PDF of each of its NOPICs as it then stands (a
cancelled one marked so across the page) and keeps it: the file in the document store, its sha256 in
`certificate_pdfs`. Served afterwards as it was sealed, for as long as the record is kept. A PDF asked for
that was not kept yet (the closing change recorded before this existed, or the seal was unavailable then)
is sealed and kept on first request.
"""

from __future__ import annotations

import asyncio

import asyncpg

from activities.documents import DocumentStore
from activities.pdf import NopicPdfs
from core.logging import get_logger
from domain.state import Certificate, CertificateStatus, RequestState

log = get_logger(__name__)


class CertificatePdfs:
    def __init__(self, pool: asyncpg.Pool, store: DocumentStore, pdfs: NopicPdfs) -> None:
        self._pool = pool
        self._store = store
        self._pdfs = pdfs

    async def live(self, state: RequestState, certificate: Certificate) -> bytes:
        """The PDF of an open request's NOPIC, sealed now: it follows the certificate's status."""
        return await asyncio.to_thread(self._pdfs.sealed, state.request_id, certificate, state.form)

    async def kept(self, state: RequestState, certificate: Certificate) -> bytes:
        """The PDF of a closed request's NOPIC, as it was kept (sealed and kept now if it was not yet)."""
        assert certificate.number is not None
        async with self._pool.acquire() as conn:
            sha256 = await conn.fetchval(
                "SELECT sha256 FROM certificate_pdfs WHERE request_id = $1 AND nopic_number = $2 "
                "AND status = $3",
                state.request_id,
                certificate.number,
                str(certificate.status),
            )
        if sha256 is not None:
            return await self._store.read(sha256)
        return await self._keep(state, certificate)

    async def keep_all(self, state: RequestState) -> None:
        """Seal and keep the PDF of every NOPIC of a closed request that has none yet (those superseded or
        replaced too)."""
        for certificate in state.every_certificate:
            if certificate.status is not CertificateStatus.PENDING:
                await self.kept(state, certificate)

    async def _keep(self, state: RequestState, certificate: Certificate) -> bytes:
        pdf = await self.live(state, certificate)
        stored = await self._store.store(pdf, f"NOPIC-{certificate.number}.pdf")
        async with self._pool.acquire() as conn:
            # The first kept PDF stays the record: one sealed at the same time elsewhere is dropped.
            kept = await conn.fetchval(
                "INSERT INTO certificate_pdfs (request_id, nopic_number, status, sha256) "
                "VALUES ($1, $2, $3, $4) "
                "ON CONFLICT (request_id, nopic_number) DO UPDATE SET status = EXCLUDED.status, "
                "sha256 = EXCLUDED.sha256, sealed_at = now() "
                "WHERE certificate_pdfs.status <> EXCLUDED.status "
                "RETURNING sha256",
                state.request_id,
                certificate.number,
                str(certificate.status),
                stored.sha256,
            )
        if kept is None:
            return await self.kept(state, certificate)
        log.info("certificate_pdf.kept", request_id=state.request_id, nopic=certificate.number)
        return pdf
