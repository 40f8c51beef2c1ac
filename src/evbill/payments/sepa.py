"""SEPA identifiers a direct debit needs, checked as the banks check them.

- IBAN (ISO 13616): a SEPA country's code and length, check digits by ISO 7064 MOD 97-10.
- Mandate reference (EPC SDD rulebook, AT-01): 1 to 35 characters of `a-z A-Z 0-9 / - ? : ( )
  . , ' +`, no space, not starting or ending with `/`, no `//`.
- SEPA creditor identifier (EPC262): country, two check digits (MOD 97-10 over the national
  identifier and the country), a three-character business code, the national identifier.

The debtor's IBAN is stored (a direct debit cannot be collected without it) and shown masked,
only its last four characters, everywhere but the e-invoice XML (EN 16931 BT-91).
"""

from __future__ import annotations

import re
from typing import Final

from evbill.payments.refusals import Invalid

__all__ = ["check_creditor_id", "check_iban", "check_mandate_reference", "mask_iban"]

#: IBAN length per country of the SEPA schemes' geographical scope.
IBAN_LENGTHS: Final = {
    "AD": 24, "AL": 28, "AT": 20, "BE": 16, "BG": 22, "CH": 21, "CY": 28, "CZ": 24, "DE": 22,
    "DK": 18, "EE": 20, "ES": 24, "FI": 18, "FR": 27, "GB": 22, "GI": 23, "GR": 27, "HR": 21,
    "HU": 28, "IE": 22, "IS": 26, "IT": 27, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "MC": 27,
    "MD": 24, "ME": 22, "MK": 19, "MT": 31, "NL": 18, "NO": 15, "PL": 28, "PT": 25, "RO": 24,
    "SE": 24, "SI": 19, "SK": 24, "SM": 27, "VA": 22,
}  # fmt: skip

_IBAN_SHAPE = re.compile(r"[A-Z]{2}[0-9]{2}[A-Z0-9]+")
_REFERENCE = re.compile(r"[A-Za-z0-9/\-?:().,'+]{1,35}")
_CREDITOR = re.compile(r"([A-Z]{2})([0-9]{2})([A-Z0-9]{3})([A-Z0-9]{1,28})")


def _mod97(text: str) -> int:
    """ISO 7064 MOD 97-10 of `text` with letters as numbers (A=10 … Z=35)."""
    return int("".join(str(int(c, 36)) for c in text)) % 97


def check_iban(value: str) -> str:
    """The IBAN in its electronic form (no spaces, upper case), or `Invalid` saying why."""
    iban = re.sub(r"[\s-]", "", value).upper()
    if not _IBAN_SHAPE.fullmatch(iban):
        raise Invalid(f"iban: {_short(value)!r} is not an IBAN (country code, two check "
                      "digits, account number)")  # fmt: skip
    length = IBAN_LENGTHS.get(iban[:2])
    if length is None:
        raise Invalid(f"iban: {iban[:2]} is not a country of the SEPA direct debit scheme")
    if len(iban) != length:
        raise Invalid(f"iban: an IBAN from {iban[:2]} has {length} characters, not {len(iban)}")
    if _mod97(iban[4:] + iban[:4]) != 1:
        raise Invalid(f"iban: the check digits of {mask_iban(iban)} do not match (a typing "
                      "error?)")  # fmt: skip
    return iban


def mask_iban(iban: str) -> str:
    """The IBAN as shown to people: its country and last four characters only."""
    return f"{iban[:2]}…{iban[-4:]}"


def check_mandate_reference(value: str) -> str:
    """The mandate reference (AT-01) as given, or `Invalid` naming the rule it breaks."""
    if not _REFERENCE.fullmatch(value):
        raise Invalid("reference: a SEPA mandate reference has 1 to 35 characters of "
                      "A-Z a-z 0-9 / - ? : ( ) . , ' + and no space")  # fmt: skip
    if value.startswith("/") or value.endswith("/") or "//" in value:
        raise Invalid("reference: a SEPA mandate reference neither starts nor ends with '/' "
                      "and has no '//'")  # fmt: skip
    return value


def check_creditor_id(value: str) -> str:
    """The SEPA creditor identifier (upper case, no spaces), or `Invalid` saying why."""
    creditor = re.sub(r"\s", "", value).upper()
    match = _CREDITOR.fullmatch(creditor)
    if match is None or len(creditor) > 35:
        raise Invalid(f"sepa_creditor_id: {_short(value)!r} is not a SEPA creditor identifier "
                      "(e.g. DE98ZZZ09999999999)")  # fmt: skip
    country, digits, _, national = match.groups()
    if _mod97(national + country + digits) != 1:
        raise Invalid(f"sepa_creditor_id: the check digits of {creditor} do not match")
    return creditor


def _short(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "…"
