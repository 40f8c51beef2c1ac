"""Every document kind and scenario through both official EN 16931 rule sets (CEN/TC 434
XSLT, release 1.3.16, run with Saxon-HE): the CII, the UBL and the CII embedded in the PDF/A-3
must have 0 fatal errors. The PDF has one XMP packet with one `rdf:RDF`, one `/AF` entry
(the Factur-X file, AFRelationship Data) and the embedded XML is the document's own CII.

The stylesheets are `../shared/data/en16931/` beside the repository: missing, these tests fail.
"""

from __future__ import annotations

import io
from dataclasses import replace
from functools import cache

import pikepdf
import pytest

from evbill.invoicing.cii import to_cii
from evbill.invoicing.model import Document
from evbill.invoicing.pdf import FACTURX_FILENAME, render_pdf
from evbill.invoicing.ubl import to_ubl

from .en16931 import ARTEFACTS, Validator, validator
from .scenarios import SCENARIOS, small_invoice


@pytest.fixture(scope="session")
def rules() -> Validator:
    """Both stylesheets, compiled once per test session (a few seconds each)."""
    return validator()


@cache
def _document(name: str) -> Document:
    return SCENARIOS[name]()


@cache
def _pdf(name: str) -> bytes:
    doc = _document(name)
    return render_pdf(doc, xml=to_cii(doc))


def _fatal(rules: Validator, xml: bytes) -> list[str]:
    return [f"{f.rule}: {f.text}" for f in rules.fatal(xml)]


def test_the_official_artefacts_are_beside_the_repository() -> None:
    assert (ARTEFACTS / "EN16931-CII-validation.xslt").is_file(), ARTEFACTS
    assert (ARTEFACTS / "EN16931-UBL-validation.xslt").is_file(), ARTEFACTS


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_cii_has_no_fatal_error(rules: Validator, name: str) -> None:
    assert _fatal(rules, to_cii(_document(name))) == []


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_ubl_has_no_fatal_error(rules: Validator, name: str) -> None:
    assert _fatal(rules, to_ubl(_document(name))) == []


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_xml_embedded_in_the_pdf_has_no_fatal_error(rules: Validator, name: str) -> None:
    with pikepdf.open(io.BytesIO(_pdf(name))) as pdf:
        files = pdf.attachments
        assert list(files) == [FACTURX_FILENAME]
        embedded = files[FACTURX_FILENAME].get_file().read_bytes()
        af = pdf.Root.AF
        assert len(af) == 1  # WeasyPrint alone lists the file spec twice
        assert af[0].AFRelationship == pikepdf.Name.Data
        xmp = pdf.Root.Metadata.read_bytes().decode()
        assert xmp.count("<?xpacket begin") == 1 and xmp.count("<?xpacket end") == 1
        assert xmp.count("<rdf:RDF") == 1  # one RDF, Factur-X descriptions inside it
        with pdf.open_metadata() as meta:
            fx = "{urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#}"
            assert meta[f"{fx}DocumentFileName"] == FACTURX_FILENAME
            assert meta[f"{fx}ConformanceLevel"] == "EN 16931"
            assert meta["pdfaid:part"] == "3"
    assert embedded == to_cii(_document(name))
    assert _fatal(rules, embedded) == []


def test_the_rules_do_catch_a_broken_document(rules: Validator) -> None:
    """A credit transfer without the payee's account breaks BR-61 / CII-SR-470: the check
    above can fail."""
    doc = small_invoice()
    broken = replace(doc, issuer=replace(doc.issuer, iban=None))
    assert any(r.startswith("BR-61") for r in _fatal(rules, to_ubl(broken)))
    assert _fatal(rules, to_cii(broken))


def test_no_empty_delivery_element() -> None:
    """PEPPOL-EN16931-R008: every invoice names the place of supply (BT-80) instead."""
    for name in SCENARIOS:
        for xml in (to_cii(_document(name)), to_ubl(_document(name))):
            text = xml.decode()
            assert "<ram:ApplicableHeaderTradeDelivery/>" not in text
            assert "<cac:Delivery/>" not in text
