"""Numbering series rules: one gapless sequence per operator, document type and year.

Pure: the counter itself lives in the store (`invoice_series`, locked FOR UPDATE inside the
issuing transaction, see `service.py`); here are the series key, the number format and the
check that a list of issued numbers has no gap and no duplicate.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from evbill.invoicing.model import DocumentError, DocumentType

__all__ = ["DEFAULT_TEMPLATE", "NumberingError", "SeriesKey", "find_gaps", "parse_number"]

#: Default number format: `INV-2026-000123`; an operator may add its own code ("{code}").
DEFAULT_TEMPLATE: Final = "{prefix}-{year}-{seq:06d}"
_FIELDS: Final = re.compile(r"\{(prefix|year|seq(?::0\d+d)?|code)\}")


class NumberingError(DocumentError):
    """A number template or number that breaks the series rules."""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """Which sequence a document draws from: operator, document type, calendar year."""

    operator_id: str
    doc_type: DocumentType
    year: int
    template: str = DEFAULT_TEMPLATE
    code: str = ""  # the operator's short code, for templates that include "{code}"

    def __post_init__(self) -> None:
        check_template(self.template)
        if not 2000 <= self.year <= 9999:
            raise NumberingError(f"series.year: {self.year} is outside 2000-9999")

    @property
    def name(self) -> str:
        """Stable identifier of the series (the counter row's primary key)."""
        return f"{self.operator_id}/{self.doc_type.value}/{self.year}"

    def format(self, seq: int) -> str:
        if seq < 1:
            raise NumberingError(f"series.seq: {seq} is not a positive sequence number")
        return self.template.format(prefix=self.doc_type.prefix, year=self.year, seq=seq,
                                    code=self.code)  # fmt: skip

    def pattern(self) -> re.Pattern[str]:
        """A regex matching this series' numbers, with the sequence as group `seq`."""
        parts: list[str] = []
        position = 0
        for match in _FIELDS.finditer(self.template):
            parts.append(re.escape(self.template[position:match.start()]))
            name = match.group(1)
            if name.startswith("seq"):
                parts.append(r"(?P<seq>\d+)")
            else:
                value = {"prefix": self.doc_type.prefix, "year": str(self.year),
                         "code": self.code}[name]  # fmt: skip
                parts.append(re.escape(value))
            position = match.end()
        parts.append(re.escape(self.template[position:]))
        return re.compile("".join(parts))


def check_template(template: str) -> str:
    """A template must contain `{seq…}` exactly once and no other placeholders than ours."""
    stripped = _FIELDS.sub("", template)
    if "{" in stripped or "}" in stripped:
        raise NumberingError(f"series.template: {template!r} has an unknown placeholder")
    if len(re.findall(r"\{seq(?::0\d+d)?\}", template)) != 1:
        raise NumberingError(f"series.template: {template!r} needs exactly one {{seq}}")
    return template


def parse_number(key: SeriesKey, number: str) -> int:
    """The sequence number inside `number`, or `NumberingError` if it is not of the series."""
    match = key.pattern().fullmatch(number)
    if match is None:
        raise NumberingError(f"number: {number!r} does not belong to series {key.name}")
    return int(match.group("seq"))


def find_gaps(key: SeriesKey, numbers: Iterable[str]) -> tuple[list[int], list[int]]:
    """(missing, duplicated) sequence numbers among a series' issued `numbers` (1..max)."""
    seen: dict[int, int] = {}
    for number in numbers:
        seq = parse_number(key, number)
        seen[seq] = seen.get(seq, 0) + 1
    highest = max(seen, default=0)
    missing = [seq for seq in range(1, highest + 1) if seq not in seen]
    duplicated = sorted(seq for seq, count in seen.items() if count > 1)
    return missing, duplicated
