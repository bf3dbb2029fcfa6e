"""The NOPIC PDF: one page laid out as a certificate of one NOPIC, sealed with the certifier's key.

Read back as text (pypdf), its seal validated by pyHanko against the certifier's certificate, and the page
rendered to an image by poppler's `pdftoppm` (Debian `poppler-utils`) to see the cancellation across it.
"""

from __future__ import annotations

import io
import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from pypdf import PdfReader

from activities.pdf import NopicPdfs, country, hts
from activities.seal import SealUnavailable, ensure_seal
from core.settings import Settings
from domain.certificates import one_nopic_per_commodity
from domain.request import NopicRequestForm
from domain.state import Certificate, CertificateStatus
from tests.support.forms import form

ISSUED_AT = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)  # 09:15 in Brussels


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(home=tmp_path, certifier_name="Certisys", timezone="Europe/Brussels")
    assert ensure_seal(settings)
    return settings


def issued(request: NopicRequestForm, index: int = 0) -> Certificate:
    return one_nopic_per_commodity(request)[index].model_copy(
        update={
            "number": f"026-1234567890-00000{index + 1}",
            "status": CertificateStatus.ISSUED,
            "issued_at": ISSUED_AT,
        }
    )


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_one_page_with_this_nopics_data_only_in_the_certifiers_zone(settings: Settings) -> None:
    request = form()
    coffee, cocoa = request.commodities
    pdf = NopicPdfs.from_settings(settings).sealed("req-42", issued(request), request)

    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1
    text = " ".join(text_of(pdf).split())
    shipment, timeframe = request.shipment, request.timeframe
    for shown in [
        "026-1234567890-000001",
        "Certisys",
        request.exporter.name,
        request.exporter.operation_id,
        request.importer.name,
        request.importer.operation_id,
        coffee.product_name,
        hts(coffee.hts_code),
        coffee.organic_standard.value,
        "12,000 kg",
        *coffee.lot_numbers,
        country(shipment.export_country),
        shipment.export_port,
        shipment.us_port_of_entry,
        f"from {timeframe.first_day:%d %B %Y} to {timeframe.last_day:%d %B %Y}",
        "02 March 2026, 09:15 CET",
        "OR2",
    ]:
        assert shown in text, shown
    assert hts(coffee.hts_code) == "0901.21.0035"
    others = [cocoa.product_name, hts(cocoa.hts_code), *cocoa.lot_numbers]
    suppliers = [s.name for c in request.commodities for s in c.suppliers]
    tcs = [s.transaction_certificate for c in request.commodities for s in c.suppliers]
    for hidden in [*others, *suppliers, *(tc for tc in tcs if tc)]:
        assert hidden not in text, f"{hidden!r} belongs to another commodity or the exporter's suppliers"
    assert "CANCELLED" not in text


def seal_status(pdf: bytes, settings: Settings) -> object:
    [seal] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    certificate = NopicPdfs.from_settings(settings).seal.certificate
    return validate_pdf_signature(seal, ValidationContext(trust_roots=[certificate]))


def test_the_seal_covers_the_whole_file_and_shows_any_change(settings: Settings) -> None:
    request = form()
    pdf = NopicPdfs.from_settings(settings).sealed("req-42", issued(request), request)

    status = seal_status(pdf, settings)
    assert status.intact and status.valid and status.trusted  # type: ignore[attr-defined]
    assert status.coverage.name == "ENTIRE_FILE"  # type: ignore[attr-defined]
    [seal] = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert seal.sig_object["/SubFilter"] == "/ETSI.CAdES.detached", "a PAdES signature"

    at = pdf.index(b"/Title")
    altered = pdf[:at] + pdf[at:].replace(b"NOPIC 026", b"NOPIC 027", 1)
    assert altered != pdf
    assert not seal_status(altered, settings).intact  # type: ignore[attr-defined]


def test_a_cancelled_nopic_says_so_across_the_page(settings: Settings, tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian poppler-utils) is not installed")
    request = form()
    pdfs = NopicPdfs.from_settings(settings)
    valid = issued(request)
    cancelled = valid.model_copy(
        update={
            "status": CertificateStatus.CANCELLED,
            "cancelled_at": datetime(2026, 3, 9, 16, 0, tzinfo=UTC),
            "cancel_reason": "the definitive transport document never came",
        }
    )
    pictures = {}
    for name, certificate in (("issued", valid), ("cancelled", cancelled)):
        pdf = pdfs.sealed("req-42", certificate, request)
        (tmp_path / f"{name}.pdf").write_bytes(pdf)
        subprocess.run(
            ["pdftoppm", "-r", "40", "-png", "-singlefile", tmp_path / f"{name}.pdf", tmp_path / name],
            check=True,
        )
        pictures[name] = Image.open(tmp_path / f"{name}.png").convert("RGB")

    text = " ".join(text_of(pdfs.sealed("req-42", cancelled, request)).split())
    assert "CANCELLED on 09 March 2026, 17:00 CET: the definitive transport document never came" in text
    assert "Not valid for entry" in text

    def red_share(picture: Image.Image) -> float:
        """Share of reddish pixels in the middle of the page, where the word runs across it."""
        width, height = picture.size
        middle = picture.crop((width // 4, height // 3, 3 * width // 4, 2 * height // 3))
        pixels = list(middle.getdata())
        return sum(1 for r, g, b in pixels if r - g > 25 and r - b > 25) / len(pixels)

    assert red_share(pictures["issued"]) < 0.001
    assert red_share(pictures["cancelled"]) > 0.05


def test_a_replaced_nopic_says_replaced_by_its_successor_across_the_page(
    settings: Settings, tmp_path: Path
) -> None:
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (Debian poppler-utils) is not installed")
    request = form()
    pdfs = NopicPdfs.from_settings(settings)
    replaced = issued(request).model_copy(
        update={
            "status": CertificateStatus.CANCELLATION_PENDING,
            "cancel_reason": "replaced by a new NOPIC: the labels were reprinted",
            "replaced_by": "026-1234567890-000009",
        }
    )
    pdf = pdfs.sealed("req-42", replaced, request)
    text = " ".join(text_of(pdf).split())
    assert "REPLACED BY NOPIC 026-1234567890-000009 (to be cancelled in OID). Not valid for entry." in text
    cancelled = replaced.model_copy(
        update={
            "status": CertificateStatus.CANCELLED,
            "cancelled_at": datetime(2026, 3, 9, 16, 0, tzinfo=UTC),
        }
    )
    text = " ".join(text_of(pdfs.sealed("req-42", cancelled, request)).split())
    assert "REPLACED BY NOPIC 026-1234567890-000009 (cancelled in OID on 09 March 2026, 17:00 CET)" in text
    (tmp_path / "replaced.pdf").write_bytes(pdf)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", "-singlefile", tmp_path / "replaced.pdf", tmp_path / "replaced"],
        check=True,
    )
    picture = Image.open(tmp_path / "replaced.png").convert("RGB")
    width, height = picture.size
    middle = list(picture.crop((width // 4, height // 3, 3 * width // 4, 2 * height // 3)).getdata())
    assert sum(1 for r, g, b in middle if r - g > 25 and r - b > 25) / len(middle) > 0.05


def test_the_first_start_makes_a_private_key_once_and_never_replaces_the_operators(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert ensure_seal(settings)
    key = settings.seal_key_path
    assert stat.S_IMODE(key.stat().st_mode) == 0o600, "readable by the service only"
    made = key.read_bytes()
    assert not ensure_seal(settings)
    assert key.read_bytes() == made

    operators = Settings(
        home=tmp_path / "other", seal_key_file=tmp_path / "hsm.pem", seal_certificate_file=tmp_path / "c.pem"
    )
    assert not ensure_seal(operators)
    assert not (tmp_path / "hsm.pem").exists()
    request = form()
    with pytest.raises(SealUnavailable, match="NOPIC_SEAL_KEY_FILE"):
        NopicPdfs.from_settings(operators).sealed("req-42", issued(request), request)
