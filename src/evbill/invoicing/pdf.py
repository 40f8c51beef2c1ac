"""PDF rendering: HTML → PDF/A-3b with WeasyPrint, the EN 16931 CII XML embedded as Factur-X
(`factur-x.xml`, AFRelationship Data, Factur-X XMP extension schema) in the same pass.

Embedding in WeasyPrint's own pass (its PDF/A-3 attachments get `/AF` and `AFRelationship`)
saves re-parsing and re-writing every PDF with the `factur-x` library, about a fifth of the
cost of a document; `embed_facturx` (the library) stays for PDFs made elsewhere.
"""

from __future__ import annotations

import logging
from datetime import datetime
from functools import lru_cache
from typing import Any

from weasyprint import HTML, Attachment  # type: ignore[import-untyped]
from weasyprint.text.fonts import FontConfiguration  # type: ignore[import-untyped]

from evbill.invoicing.model import Document
from evbill.invoicing.render_html import render_html

__all__ = ["PdfError", "embed_facturx", "render_pdf"]

log = logging.getLogger(__name__)


class PdfError(RuntimeError):
    """The PDF could not be produced (rendering or Factur-X embedding failed)."""


@lru_cache(maxsize=1)
def _fonts() -> Any:
    # One font configuration per process: building it scans fontconfig, the costly part.
    return FontConfiguration()


#: The Factur-X XMP: the PDF/A extension schema of the `fx` namespace and its values.
_FX_NS = "urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#"
_FX_PROPERTIES = (
    ("DocumentFileName", "The name of the embedded XML document"),
    ("DocumentType", "The type of the hybrid document in capital letters, e.g. INVOICE or ORDER"),
    ("Version", "The actual version of the standard applying to the embedded XML document"),
    ("ConformanceLevel", "The conformance level of the embedded XML document"),
)
FACTURX_FILENAME = "factur-x.xml"


_RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


@lru_cache(maxsize=1)
def facturx_descriptions() -> bytes:
    """The Factur-X EN 16931 XMP: two `rdf:Description`s (the PDF/A extension schema of the
    `fx` namespace, and its values), each declaring its namespaces, to go inside the one
    `rdf:RDF` of the one XMP packet WeasyPrint writes."""
    props = "".join(
        '<rdf:li rdf:parseType="Resource">'
        f"<pdfaProperty:name>{name}</pdfaProperty:name>"
        "<pdfaProperty:valueType>Text</pdfaProperty:valueType>"
        "<pdfaProperty:category>external</pdfaProperty:category>"
        f"<pdfaProperty:description>{text}</pdfaProperty:description></rdf:li>"
        for name, text in _FX_PROPERTIES)
    return (
        f'<rdf:Description xmlns:rdf="{_RDF_NS}" rdf:about="" '
        'xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/" '
        'xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#" '
        'xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">'
        "<pdfaExtension:schemas><rdf:Bag>"
        '<rdf:li rdf:parseType="Resource">'
        "<pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>"
        f"<pdfaSchema:namespaceURI>{_FX_NS}</pdfaSchema:namespaceURI>"
        "<pdfaSchema:prefix>fx</pdfaSchema:prefix>"
        f"<pdfaSchema:property><rdf:Seq>{props}</rdf:Seq></pdfaSchema:property>"
        "</rdf:li></rdf:Bag></pdfaExtension:schemas></rdf:Description>"
        f'<rdf:Description xmlns:rdf="{_RDF_NS}" rdf:about="" xmlns:fx="{_FX_NS}">'
        "<fx:DocumentType>INVOICE</fx:DocumentType>"
        f"<fx:DocumentFileName>{FACTURX_FILENAME}</fx:DocumentFileName>"
        "<fx:Version>1.0</fx:Version><fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>"
        "</rdf:Description>").encode()


def _facturx_finisher(_document: Any, pdf: Any) -> None:
    """After WeasyPrint's PDF/A-3 pass: the Factur-X descriptions go into its one `rdf:RDF`
    (one XMP packet, one RDF), and the catalog's `/AF` names each file spec once (WeasyPrint
    70 adds the attachment twice: from the name tree and from the objects)."""
    if "AF" in pdf.catalog:
        unique = list(dict.fromkeys(pdf.catalog["AF"]))
        pdf.catalog["AF"].clear()
        pdf.catalog["AF"].extend(unique)
    metadata = pdf.objects[int(pdf.catalog["Metadata"].split()[0])]
    content = b"".join(
        part if isinstance(part, bytes) else str(part).encode() for part in metadata.stream)
    end = content.rindex(b"</rdf:RDF>")
    metadata.stream = [content[:end] + facturx_descriptions() + content[end:]]


def html_to_pdfa(html: str, *, xml: bytes | None = None, at: datetime | None = None) -> bytes:
    """A PDF/A-3b of `html` (fonts embedded, sRGB output intent, XMP metadata); with `xml`,
    a Factur-X EN 16931 hybrid (`factur-x.xml` attached as the document's Data)."""
    options: dict[str, Any] = {}
    if xml is not None:
        options["attachments"] = [Attachment(
            string=xml, name=FACTURX_FILENAME, relationship="Data", created=at, modified=at,
            description="Factur-X EN 16931 invoice data")]
        options["finisher"] = _facturx_finisher
    try:
        data: bytes = HTML(string=html, base_url=".").write_pdf(
            pdf_variant="pdf/a-3b", font_config=_fonts(), uncompressed_pdf=False, **options
        )
    except Exception as exc:  # WeasyPrint raises plain exceptions of many kinds
        raise PdfError(f"pdf: rendering failed: {exc}") from exc
    return data


def embed_facturx(pdf: bytes, xml: bytes, document: Document) -> bytes:
    """Attach the CII XML as a Factur-X EN 16931 invoice (XMP extension schema included)."""
    from facturx import generate_from_binary  # type: ignore[import-untyped]

    metadata = {
        "author": document.issuer.name,
        "keywords": "Factur-X, EN 16931",
        "title": f"{document.issuer.name}: {document.doc_type.label} {document.number}",
        "subject": f"{document.doc_type.label} {document.number} for {document.customer.name}",
    }
    try:
        result: bytes = generate_from_binary(
            pdf, xml, flavor="factur-x", level="en16931", check_xsd=False,
            pdf_metadata=metadata, lang=document.language,
        )  # fmt: skip
    except Exception as exc:
        raise PdfError(f"pdf: Factur-X embedding failed: {exc}") from exc
    return result


def render_pdf(document: Document, *, xml: bytes | None = None) -> bytes:
    """The document's PDF/A-3b; with `xml`, a Factur-X/ZUGFeRD hybrid invoice."""
    pdf = html_to_pdfa(render_html(document), xml=xml, at=document.issued_at)
    log.debug("invoice.pdf_rendered number=%s bytes=%d facturx=%s",
              document.number, len(pdf), xml is not None)  # fmt: skip
    return pdf
