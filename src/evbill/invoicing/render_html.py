"""Render a `Document` to HTML with the Jinja2 templates in `templates/` (for the PDF).

Formatting lives here as template filters: money in the document's currency with its minor
unit, quantities, local times with the zone, durations; the templates only lay them out.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Final

import segno
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from evbill.invoicing.model import Document, DocumentType
from evbill.money import minor_unit

__all__ = ["format_money", "format_quantity", "proof_qr_svg", "render_html"]

_SYMBOLS: Final = {"EUR": "€", "GBP": "£", "USD": "$", "JPY": "¥"}


def format_money(amount: Decimal, currency: str) -> str:
    """`€1,234.56`, `CHF 12.30`, `-€0.50`: grouped, at the currency's minor unit."""
    places = minor_unit(currency)
    text = f"{abs(amount):,.{places}f}"
    symbol = _SYMBOLS.get(currency)
    body = f"{symbol}{text}" if symbol else f"{currency} {text}"
    return f"-{body}" if amount < 0 else body


def format_quantity(value: Decimal, places: int = 3) -> str:
    """A quantity with at most `places` decimals, trailing zeros dropped (keeps at least 2)."""
    text = f"{value:,.{places}f}"
    if "." in text:
        whole, frac = text.split(".")
        frac = frac.rstrip("0").ljust(min(2, places), "0")
        text = f"{whole}.{frac}" if frac else whole
    return text


def format_unit_price(price: Decimal, currency: str, unit: str) -> str:
    """`€0.39 / kWh`: the tariff's price, up to 4 decimals, never fewer than the minor unit."""
    places = minor_unit(currency)
    text = format_quantity(price, max(4, places))
    if "." in text and len(text.split(".")[1]) < places:
        text = f"{price:,.{places}f}"
    symbol = _SYMBOLS.get(currency)
    body = f"{symbol}{text}" if symbol else f"{currency} {text}"
    return body if unit == "session" else f"{body} / {unit}"


def format_rate(rate: Decimal) -> str:
    text = f"{rate.normalize():f}"
    return f"{text} %"


def format_duration(hours: Decimal) -> str:
    minutes = int((hours * 60).to_integral_value())
    return f"{minutes // 60} h {minutes % 60:02d} min" if minutes >= 60 else f"{minutes} min"


def format_datetime(value: datetime) -> str:
    return value.strftime("%d.%m.%Y %H:%M")


def format_date(value: date) -> str:
    return value.strftime("%d.%m.%Y")


def proof_qr_svg(proof: dict[str, Any]) -> str:
    """The ledger inclusion proof as a QR code (SVG data URI) of its compact JSON."""
    payload = json.dumps(proof, separators=(",", ":"), sort_keys=True)
    qr = segno.make(payload, error="l", micro=False)
    uri: str = qr.svg_data_uri(scale=2, border=0, dark="#1f2a37")
    return uri


@lru_cache(maxsize=1)
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("evbill.invoicing", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        money=format_money, qty=format_quantity, unit_price=format_unit_price,
        rate=format_rate, duration=format_duration, dt=format_datetime, d=format_date,
    )  # fmt: skip
    return env


def render_html(document: Document, *, operator_note: str = "") -> str:
    """The document as one self-contained HTML page (inline CSS, QR code as a data URI)."""
    if not document.number:
        raise ValueError("number: a document is rendered only once it is numbered")
    template = _environment().get_template("document.html.j2")
    qr = proof_qr_svg(document.proof) if document.proof else None
    return template.render(
        doc=document, DocumentType=DocumentType, qr=qr, operator_note=operator_note,
        ADJUSTMENTS=("MIN_PRICE", "MAX_PRICE", "REFUND"),
        zones=sorted({block.local_start.strftime("%Z") for block in document.sessions}),
    )  # fmt: skip
