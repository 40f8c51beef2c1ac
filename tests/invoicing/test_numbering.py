"""Numbering series: format, parse, templates, gaps and duplicates."""

from __future__ import annotations

import pytest

from evbill.invoicing.model import DocumentType
from evbill.invoicing.numbering import NumberingError, SeriesKey, find_gaps, parse_number


def test_default_format_per_type_and_year() -> None:
    assert SeriesKey("op", DocumentType.INVOICE, 2026).format(123) == "INV-2026-000123"
    assert SeriesKey("op", DocumentType.RECEIPT, 2027).format(1) == "RCT-2027-000001"
    assert SeriesKey("op", DocumentType.CREDIT_NOTE, 2026).format(1_234_567) == "CRN-2026-1234567"


def test_operator_template_with_code_round_trips() -> None:
    key = SeriesKey("op", DocumentType.INVOICE, 2026, template="{code}/{prefix}{year}-{seq:08d}",
                    code="VW")  # fmt: skip
    number = key.format(42)
    assert number == "VW/INV2026-00000042"
    assert parse_number(key, number) == 42
    assert key.name == "op/INVOICE/2026"


@pytest.mark.parametrize("number", ["INV-2025-000001", "RCT-2026-000001", "INV-2026-", "x"])
def test_numbers_of_another_series_are_refused(number: str) -> None:
    with pytest.raises(NumberingError, match="does not belong"):
        parse_number(SeriesKey("op", DocumentType.INVOICE, 2026), number)


@pytest.mark.parametrize("template", ["{prefix}-{year}", "{seq}{seq}", "{prefix}-{bogus}-{seq}"])
def test_bad_templates_are_refused(template: str) -> None:
    with pytest.raises(NumberingError, match="template"):
        SeriesKey("op", DocumentType.INVOICE, 2026, template=template)


def test_sequence_starts_at_one() -> None:
    with pytest.raises(NumberingError, match="seq"):
        SeriesKey("op", DocumentType.INVOICE, 2026).format(0)


def test_find_gaps_and_duplicates() -> None:
    key = SeriesKey("op", DocumentType.INVOICE, 2026)
    numbers = [key.format(n) for n in (1, 2, 2, 4, 5, 7)]
    assert find_gaps(key, numbers) == ([3, 6], [2])
    assert find_gaps(key, [key.format(n) for n in range(1, 50)]) == ([], [])
    assert find_gaps(key, []) == ([], [])
