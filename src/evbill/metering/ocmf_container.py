"""Files of OCMF records: one record after another (one per line, or pretty-printed), or the
reference transparency software's XML container:

    <values>
      <value><signedData format="OCMF" encoding="plain">OCMF|…|…</signedData>
             <publicKey encoding="hex">3059…</publicKey></value>
      …
    </values>

Values in other formats (SML/EDL from other meters) are reported as skipped, not refused.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Final
from xml.etree import ElementTree

from evbill.metering.ocmf_model import OcmfFormatError

__all__ = ["ContainerRecord", "read_records"]

# Several records in one input: each starts with "OCMF|" (a pipe never occurs inside one).
_RECORD_START: Final = re.compile(r"(?=OCMF\|)")
# Entity and document type declarations are refused: no entity expansion from untrusted files.
_DECLARATION: Final = re.compile(r"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class ContainerRecord:
    """One entry of a file: its OCMF text and the key published beside it, or why it has none."""

    number: int  # 1-based position in the file (records or <value> elements)
    text: str | None  # the OCMF string; None when the entry is skipped
    public_key: str | None  # the container's <publicKey>, if any
    skipped: str | None = None  # why the entry holds no OCMF record


def read_records(text: str) -> list[ContainerRecord]:
    """Every entry of a records file or an XML container, in order."""
    body = text.lstrip("\ufeff").strip()
    if body.startswith("<"):
        return _xml_records(body)
    parts = [part.strip() for part in _RECORD_START.split(body) if part.strip()]
    return [ContainerRecord(n, part, None) for n, part in enumerate(parts or [body], start=1)]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(element: ElementTree.Element, name: str) -> ElementTree.Element | None:
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _xml_records(body: str) -> list[ContainerRecord]:
    if _DECLARATION.search(body):
        raise OcmfFormatError("XML: document type and entity declarations are not accepted")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError as exc:
        raise OcmfFormatError(f"XML: not a readable container ({exc})") from None
    values = [element for element in root.iter() if _local(element.tag) == "value"]
    if not values:
        raise OcmfFormatError("XML: no <value> element (expected <values><value>…</value>…)")
    return [_value_record(number, value) for number, value in enumerate(values, start=1)]


def _value_record(number: int, value: ElementTree.Element) -> ContainerRecord:
    key_element = _child(value, "publicKey")
    key = (key_element.text or "").strip() if key_element is not None else ""
    signed = _child(value, "signedData")
    if signed is None:
        return ContainerRecord(number, None, key or None, "no <signedData>")
    data_format = signed.get("format", "")
    if data_format and data_format.upper() != "OCMF":
        return ContainerRecord(number, None, key or None, f"format {data_format} is not OCMF")
    content = (signed.text or "").strip()
    if signed.get("encoding", "plain").lower() == "base64":
        try:
            content = base64.b64decode("".join(content.split()), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return ContainerRecord(number, None, key or None, "signedData is not valid base64")
    if not content.startswith("OCMF|"):
        return ContainerRecord(number, None, key or None, "signedData holds no OCMF record")
    return ContainerRecord(number, content, key or None)
