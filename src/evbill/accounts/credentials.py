"""Credentials that identify a customer (RFID cards, key codes, app tokens, eMAID contracts,
Autocharge MAC addresses): the one key they are stored and looked up under, and the one lookup
every caller uses (authorization at the station, history scoping, payment mode, billing,
settlement). See docs/accounts.md for the rules.

- A credential's key is its value normalised by kind. Card-like values (ISO14443, ISO15693,
  Local, Central, KeyCode) and MAC addresses that are hex drop separators (spaces, ``:``,
  ``-``, ``.``) and are upper case (``04:a1:b2`` = ``04A1B2``); other card-like values are
  taken as sent, trimmed. eMAIDs compare without dashes, upper case.
- The key is unique across every type (`id_tokens.value`): one physical token, one identity.
- Card-like types are one namespace: a card registered as ISO14443 answers when a station
  reports the same value as Local, Central, KeyCode or ISO15693. eMAID and MacAddress are
  credentials of their own kind and never match a card (nor each other).
- A driver links a card to their account only with the verification code the operator issued
  with it (`ClaimCodes`); the code is stored as a keyed hash and cleared once used.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, select
from sqlalchemy.orm import Session

from evbill.sessions.commands import IdTokenType
from evbill.store.tables import IdTokenRow, SessionRow

__all__ = [
    "CARD_TYPES",
    "ClaimCodes",
    "CredentialKind",
    "account_credentials",
    "account_of",
    "credential_key",
    "credential_kind",
    "find_credential",
    "same_kind_types",
    "session_credential",
]


class CredentialKind(StrEnum):
    CARD = "card"  # a physical card or code a station reads, whatever type it reports
    EMAID = "emaid"  # a Plug & Charge contract
    MAC = "mac"  # an Autocharge vehicle's MAC address
    NONE = "none"  # NoAuthorization: identifies nobody


#: Types under which stations report the same physical card (OCPP 2.0.1 firmware varies).
CARD_TYPES = frozenset({IdTokenType.ISO14443, IdTokenType.ISO15693, IdTokenType.LOCAL,
                        IdTokenType.CENTRAL, IdTokenType.KEY_CODE})  # fmt: skip

_SEPARATORS = re.compile(r"[\s:\-.]")
_HEX = re.compile(r"[0-9A-Fa-f]+")


def credential_kind(type_: IdTokenType | str) -> CredentialKind:
    kind = IdTokenType(type_)
    if kind in CARD_TYPES:
        return CredentialKind.CARD
    if kind is IdTokenType.EMAID:
        return CredentialKind.EMAID
    if kind is IdTokenType.MAC_ADDRESS:
        return CredentialKind.MAC
    return CredentialKind.NONE


def same_kind_types(type_: IdTokenType | str) -> list[str]:
    """The registered types a token reported as `type_` may match (its credential kind's)."""
    try:
        kind = credential_kind(type_)
    except ValueError:  # a type OCPP does not define matches only itself
        return [str(type_)]
    return sorted(t.value for t in IdTokenType if credential_kind(t) is kind)


def credential_key(value: str, type_: IdTokenType | str) -> str:
    """The form a credential is stored, matched and recorded on sessions in."""
    text = value.strip()
    kind = credential_kind(type_)
    if kind in (CredentialKind.CARD, CredentialKind.MAC):
        compact = _SEPARATORS.sub("", text)
        return compact.upper() if _HEX.fullmatch(compact) else text
    if kind is CredentialKind.EMAID:
        return text.replace("-", "").upper()
    return text


def find_credential(s: Session, value: str, type_: IdTokenType | str | None = None,
                    *, for_update: bool = False) -> IdTokenRow | None:  # fmt: skip
    """The registered credential a station or a record names.

    With `type_` (what a station reports) the value is normalised and a credential of another
    kind does not match (a card never answers for a MAC address or an eMAID). Without it,
    `value` is a stored key already (a session's `id_token`, a payment binding's).
    """
    key = value if type_ is None else credential_key(value, type_)
    stmt = select(IdTokenRow).where(IdTokenRow.value == key)
    if for_update:
        stmt = stmt.with_for_update()
    row = s.scalars(stmt).first()
    if row is not None and type_ is not None and credential_kind(row.type) != credential_kind(
        type_
    ):
        return None
    return row


def account_of(s: Session, value: str, type_: IdTokenType | str | None = None) -> str | None:
    """The account a credential belongs to (None: unknown credential, or no account)."""
    row = find_credential(s, value, type_)
    return None if row is None else row.account


def account_credentials(account: Any) -> Select[Any]:
    """The keys of an account's credentials (`account` a value or a bound parameter): the
    values its sessions are recorded under."""
    return select(IdTokenRow.value).where(IdTokenRow.account == account)


def session_credential() -> ColumnElement[bool]:
    """Join condition from a session to the credential it was recorded with."""
    return IdTokenRow.value == SessionRow.id_token


# --- proof of possession --------------------------------------------------------------------

_CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32: no I, L, O, U
CODE_LENGTH = 12  # 60 bits


class ClaimCodes:
    """Verification codes printed on the card an operator issues (60 random bits), stored
    only as a keyed hash (HMAC-SHA256 under a key derived from the installation's API secret)
    bound to the card's key, so a database reader can neither use nor brute-force them."""

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode("utf-8") if isinstance(secret, str) else secret
        self._key = hmac.new(raw, b"evbill-card-claim-code", hashlib.sha256).digest()

    @staticmethod
    def new() -> str:
        code = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(CODE_LENGTH))
        return "-".join(code[i : i + 4] for i in range(0, CODE_LENGTH, 4))

    @staticmethod
    def _normal(code: str) -> str:
        return _SEPARATORS.sub("", code).upper().replace("O", "0").replace("I", "1").replace(
            "L", "1"
        )

    def digest(self, key: str, code: str) -> str:
        message = f"{key}\x00{self._normal(code)}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def matches(self, key: str, code: str, stored: str | None) -> bool:
        return stored is not None and hmac.compare_digest(self.digest(key, code), stored)
