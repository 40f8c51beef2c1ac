"""PDF/A-3b rendering with the Factur-X XML embedded, and what the pages say."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from facturx import get_xml_from_pdf
from pypdf import PdfReader

from evbill.invoicing.cii import to_cii
from evbill.invoicing.model import Document
from evbill.invoicing.pdf import render_pdf
from evbill.invoicing.render_html import (
    format_duration,
    format_money,
    format_quantity,
    format_unit_price,
    render_html,
)

from .factories import sample_invoice, sample_receipt

D = Decimal


def _text(pdf: bytes, tmp_path: Path) -> str:
    pdftotext = shutil.which("pdftotext")
    assert pdftotext, "poppler-utils (pdftotext) is required for the PDF tests"
    path = tmp_path / "doc.pdf"
    path.write_bytes(pdf)
    out = subprocess.run([pdftotext, "-layout", str(path), "-"], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return re.sub(r"[ \t]+", " ", out)


@pytest.fixture(scope="module")
def invoice() -> Document:
    return sample_invoice(12)


@pytest.fixture(scope="module")
def invoice_pdf(invoice: Document) -> bytes:
    return render_pdf(invoice, xml=to_cii(invoice))


def test_invoice_pdf_is_pdfa3b_with_the_factur_x_xml(invoice: Document, invoice_pdf: bytes) -> None:
    reader = PdfReader(io.BytesIO(invoice_pdf))
    xmp = reader.xmp_metadata
    assert xmp is not None
    raw = xmp.stream.get_data().decode()
    # element or attribute form: both are the same RDF property
    assert re.search(r'pdfaid:part(>|=")3', raw) and re.search(r'pdfaid:conformance(>|=")B', raw)
    assert "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in raw
    assert "EN 16931" in raw
    filename, xml = get_xml_from_pdf(invoice_pdf, check_xsd=True)
    assert filename == "factur-x.xml"
    assert xml == to_cii(invoice)
    assert len(reader.pages) >= 2  # twelve sessions do not fit on one page


def test_invoice_pages_show_every_session_and_the_totals(
    invoice: Document, invoice_pdf: bytes, tmp_path: Path
) -> None:
    text = _text(invoice_pdf, tmp_path)
    assert "Invoice INV-2026-000123" in text
    for block in invoice.sessions:
        assert block.reference in text and block.station_id in text
        assert f"{block.local_start:%d.%m.%Y %H:%M}" in text
    assert "Voltway Charging GmbH" in text and "DE123456789" in text  # issuer, VAT id
    assert "Blue Fleet Logistics BV" in text and "NL123456789B01" in text  # customer
    assert "01.10.2026 – 31.10.2026" in text  # supply period
    assert f"Total excl. VAT {format_money(invoice.totals.net, 'EUR')}" in text
    assert f"Amount due {format_money(invoice.totals.gross, 'EUR')}" in text
    assert "signed meter data (OCMF)" in text
    assert "23.456 kWh" in text and "€0.39 / kWh" in text
    assert re.search(r"Page 1 of \d", text)


def test_receipt_carries_the_ledger_proof(tmp_path: Path) -> None:
    receipt = sample_receipt()
    html = render_html(receipt)
    assert 'src="data:image/svg+xml' in html
    text = _text(render_pdf(receipt), tmp_path)
    assert "Receipt RCT-2026-000042 PAID" in text
    assert "Tamper-evident record" in text and "entry 6 of 12" in text
    assert receipt.proof is not None and receipt.proof["root"][:40] in text.replace("\n", "")
    assert "Paid €16.84" in text


def test_html_escapes_customer_text() -> None:
    from dataclasses import replace

    doc = sample_receipt()
    evil = replace(doc, customer=replace(doc.customer, name="<script>x</script>"))
    html = render_html(evil)
    assert "<script>x" not in html and "&lt;script&gt;x" in html


def test_unnumbered_document_is_not_rendered() -> None:
    with pytest.raises(ValueError, match="number"):
        render_html(sample_receipt().numbered(""))


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [("1234.5", "EUR", "€1,234.50"), ("-0.5", "EUR", "-€0.50"), ("12.3", "CHF", "CHF 12.30"),
     ("1500", "JPY", "¥1,500"), ("0.1", "KWD", "KWD 0.100")],
)  # fmt: skip
def test_money_format(value: str, currency: str, expected: str) -> None:
    assert format_money(D(value), currency) == expected


def test_quantity_price_and_duration_formats() -> None:
    assert format_quantity(D("23.4560")) == "23.456"
    assert format_quantity(D("2")) == "2.00"
    assert format_unit_price(D("0.3925"), "EUR", "kWh") == "€0.3925 / kWh"
    assert format_unit_price(D("0.5"), "EUR", "session") == "€0.50"
    assert format_duration(D("1.25")) == "1 h 15 min"
    assert format_duration(D("0.5")) == "30 min"
