"""The certifier's seal on NOPIC PDFs: a PAdES signature (pyHanko) with the certifier's key and certificate.

A PDF reader shows the seal and whether the document was changed after it was sealed, as TRACES NT's
e-seal does for the EU certificate of inspection. In production the operator names its own key and
certificate (`NOPIC_SEAL_KEY_FILE`, `NOPIC_SEAL_CERTIFICATE_FILE`, PEM; the certificate file may go on with
the intermediate certificates of its chain); the embedded stack makes a key and a
self-signed certificate under `<home>/seal/` on its first start (`ensure_seal`), which readers show as
valid but not trusted until the certificate is trusted.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from threading import Lock

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle
from pyhanko_certvalidator.registry import SimpleCertificateStore

from core.files import write_atomically
from core.logging import get_logger
from core.settings import Settings

log = get_logger(__name__)

SEAL_FIELD = "CertifierSeal"
# Long enough for the records it seals to be checked for the whole retention period, with margin.
SELF_SIGNED_VALIDITY = timedelta(days=366 * 15)


Box = tuple[int, int, int, int]
_STAMP = TextStampStyle(stamp_text="Sealed by %(signer)s\n%(ts)s", border_width=1)


class SealUnavailable(RuntimeError):
    """The seal's key or certificate cannot be read: the message names the file and what to do."""


@dataclass(frozen=True)
class SealFiles:
    key: Path
    certificate: Path

    @classmethod
    def of(cls, settings: Settings) -> SealFiles:
        return cls(settings.seal_key_path, settings.seal_certificate_path)


def ensure_seal(settings: Settings) -> bool:
    """Make a key and a self-signed certificate under `<home>/seal/` unless the operator named files of its
    own or they exist already; True when they were made now. The key file is readable by its owner only."""
    if settings.seal_key_file is not None or settings.seal_certificate_file is not None:
        return False
    files = SealFiles.of(settings)
    if files.key.exists() and files.certificate.exists():
        return False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{settings.certifier_name} NOPIC seal"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, settings.certifier_name),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + SELF_SIGNED_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    files.key.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    write_atomically(files.key, pem_key)  # mkstemp's mode: readable by its owner only
    write_atomically(files.certificate, certificate.public_bytes(serialization.Encoding.PEM))
    log.info("seal.created", certificate=str(files.certificate), subject=name.rfc4514_string())
    return True


class Seal:
    """Seals PDFs with the key and certificate in `files`, read on first use (then kept)."""

    def __init__(self, files: SealFiles, certifier_name: str) -> None:
        self._files = files
        self._certifier_name = certifier_name
        self._signer: signers.SimpleSigner | None = None
        self._lock = Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> Seal:
        return cls(SealFiles.of(settings), settings.certifier_name)

    @property
    def certificate(self) -> asn1_x509.Certificate:
        return self._load().signing_cert

    def _load(self) -> signers.SimpleSigner:
        with self._lock:
            if self._signer is None:
                self._signer = _signer(self._files)
            return self._signer

    def seal(self, pdf: bytes, *, reason: str, location: str, box: Box | None = None) -> bytes:
        """`pdf` with the certifier's PAdES signature over the whole file, shown in `box` of its first page
        (PDF points from the bottom left) when given."""
        meta = signers.PdfSignatureMetadata(
            field_name=SEAL_FIELD,
            subfilter=fields.SigSeedSubFilter.PADES,
            name=self._certifier_name,
            reason=reason,
            location=location,
        )
        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        visible = fields.SigFieldSpec(sig_field_name=SEAL_FIELD, on_page=0, box=box) if box else None
        signer = signers.PdfSigner(meta, self._load(), new_field_spec=visible, stamp_style=_STAMP)
        sealed: io.BytesIO = signer.sign_pdf(writer)
        return sealed.getvalue()


def _signer(files: SealFiles) -> signers.SimpleSigner:
    try:
        key_pem, certificate_pem = files.key.read_bytes(), files.certificate.read_bytes()
    except OSError as exc:
        raise SealUnavailable(
            f"the seal cannot be read ({exc}): set NOPIC_SEAL_KEY_FILE and NOPIC_SEAL_CERTIFICATE_FILE to "
            "the certifier's key and certificate (PEM), or run `nopic migrate` to make a self-signed one"
        ) from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
        # The seal's certificate first, then any intermediate certificates of its chain, embedded with it.
        chain = [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in x509.load_pem_x509_certificates(certificate_pem)
        ]
    except ValueError as exc:
        raise SealUnavailable(f"the seal in {files.key} / {files.certificate} is not PEM: {exc}") from exc
    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return signers.SimpleSigner(
        signing_cert=chain[0],
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        cert_registry=SimpleCertificateStore.from_certs(chain[1:]),  # type: ignore[no-untyped-call]
    )
