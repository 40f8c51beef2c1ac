"""Billing profiles of driver and fleet accounts: the name, address and optional VAT id a full
invoice names (VAT Directive art. 226 (5)); accounts without one get simplified invoices.

The store is the accounts package's own (`customer_profiles`); invoicing reads it through
`profile_of`. Setting a profile twice with the same values changes nothing (idempotent).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, Session, mapped_column

from evbill.store.database import Database
from evbill.store.tables import Base

__all__ = ["CustomerProfile", "CustomerProfileRow", "ProfileError", "ProfileStore", "profile_of"]

_VAT_ID = re.compile(r"[A-Z]{2}[0-9A-Z+*.]{2,13}")
_COUNTRY = re.compile(r"[A-Z]{2}")


class ProfileError(ValueError):
    """A profile that cannot be stored; the message names the field and the reason."""


class CustomerProfileRow(Base):
    __tablename__ = "customer_profiles"

    account_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(32))
    city: Mapped[str] = mapped_column(String(100))
    country: Mapped[str] = mapped_column(String(2))
    vat_id: Mapped[str | None] = mapped_column(String(32))
    updated_at: Mapped[datetime]


def _text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    text = " ".join(value.split())
    if required and not text:
        raise ProfileError(f"{field}: must not be empty")
    if len(text) > limit:
        raise ProfileError(f"{field}: longer than {limit} characters")
    return text


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """A validated billing profile (country ISO 3166-1 alpha-2, VAT id with its prefix)."""

    name: str
    address: str
    postcode: str
    city: str
    country: str
    vat_id: str | None = None

    @classmethod
    def of(cls, *, name: str, address: str, postcode: str, city: str, country: str,
           vat_id: str | None = None) -> CustomerProfile:  # fmt: skip
        code = country.strip().upper()
        if not _COUNTRY.fullmatch(code):
            raise ProfileError(f"country: {country!r} is not an ISO 3166 alpha-2 code")
        vat = re.sub(r"[\s.\-]", "", vat_id or "").upper() or None
        if vat is not None and not _VAT_ID.fullmatch(vat):
            raise ProfileError(f"vat_id: {vat_id!r} is not a VAT id (country prefix + 2-13 "
                               "letters or digits)")
        return cls(_text(name, "name", 200), _text(address, "address", 200),
                   _text(postcode, "postcode", 32, required=False), _text(city, "city", 100),
                   code, vat)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _profile(row: CustomerProfileRow) -> CustomerProfile:
    return CustomerProfile(row.name, row.address, row.postcode, row.city, row.country,
                           row.vat_id)  # fmt: skip


def profile_of(s: Session, account_id: str) -> CustomerProfile | None:
    """The account's billing profile inside the caller's session (None: none set)."""
    row = s.get(CustomerProfileRow, account_id)
    return None if row is None else _profile(row)


class ProfileStore:
    """Read and set billing profiles (one row per account)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, account_id: str) -> CustomerProfile | None:
        with self.db.read_sessions() as s:
            return profile_of(s, account_id)

    def set(self, account_id: str, profile: CustomerProfile, *, now: datetime) -> bool:
        """Store the profile; False when it was already exactly this (nothing changed)."""
        if not account_id.strip() or len(account_id) > 128:
            raise ProfileError("account: must be 1-128 characters")
        with self.db.sessions() as s:
            row = s.get(CustomerProfileRow, account_id)
            if row is not None and _profile(row) == profile:
                return False
            row = row or CustomerProfileRow(account_id=account_id)
            row.name, row.address, row.postcode = profile.name, profile.address, profile.postcode
            row.city, row.country, row.vat_id = profile.city, profile.country, profile.vat_id
            row.updated_at = now
            s.add(row)
            s.commit()
        return True
