"""PDF rendering: HTML → PDF/A-3b with WeasyPrint, then the EN 16931 CII XML embedded
as Factur-X (`factur-x.xml`, AFRelationship Data/Alternative) with the `factur-x` library.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from typing import Any

from weasyprint import HTML  # type: ignore[import-untyped]
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


def html_to_pdfa(html: str) -> bytes:
    """A PDF/A-3b of `html` (fonts embedded, sRGB output intent, XMP metadata)."""
    try:
        data: bytes = HTML(string=html, base_url=".").write_pdf(
            pdf_variant="pdf/a-3b", font_config=_fonts(), uncompressed_pdf=False
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
    pdf = html_to_pdfa(render_html(document))
    if xml is not None:
        pdf = embed_facturx(pdf, xml, document)
    log.debug("invoice.pdf_rendered number=%s bytes=%d facturx=%s",
              document.number, len(pdf), xml is not None)  # fmt: skip
    return pdf
