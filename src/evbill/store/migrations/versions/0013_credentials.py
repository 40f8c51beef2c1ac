"""accounts: one credential per token value whatever its type, and issued cards' claim codes

Card-like values (Local, Central, KeyCode) get the same normalisation as ISO14443 UIDs; the
unique key moves from (value, type) to value alone. Two existing rows with the same key (the
same card registered twice under different types, attack F1 of issue 11) stop the upgrade
with the list, for an operator to resolve in SQL (keep one row of each, delete the others).

Revision ID: 0013
Revises: 0009_dedup_retention
Create Date: 2026-12-03
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The rule as of this revision, written out (a migration never imports live code).
_CARDS = {"ISO14443", "ISO15693", "Local", "Central", "KeyCode", "MacAddress"}
_SEPARATORS = re.compile(r"[\s:\-.]")
_HEX = re.compile(r"[0-9A-Fa-f]+")

_TOKENS = sa.table("id_tokens", sa.column("id", sa.Integer()), sa.column("value", sa.String()),
                   sa.column("type", sa.String()), sa.column("account", sa.String()))  # fmt: skip


def _key(value: str, type_: str) -> str:
    text = value.strip()
    if type_ in _CARDS:
        compact = _SEPARATORS.sub("", text)
        return compact.upper() if _HEX.fullmatch(compact) else text
    if type_ == "eMAID":
        return text.replace("-", "").upper()
    return text


_SESSIONS = sa.table("sessions", sa.column("id_token", sa.String()),
                     sa.column("id_token_type", sa.String()))  # fmt: skip
_BINDINGS = sa.table("payment_token_bindings", sa.column("id_token", sa.String()))


def _rekey_sessions(conn: sa.Connection) -> None:
    """Sessions are recorded under the credential key from now on: re-key the old ones (one
    UPDATE per distinct token that changes, not per session)."""
    pairs = conn.execute(sa.select(_SESSIONS.c.id_token, _SESSIONS.c.id_token_type).distinct()
                         .where(_SESSIONS.c.id_token.is_not(None))).all()  # fmt: skip
    for value, type_ in pairs:
        if type_ is None:
            continue
        key = _key(value, type_)
        if key != value:
            conn.execute(sa.update(_SESSIONS).where(_SESSIONS.c.id_token == value,
                                                    _SESSIONS.c.id_token_type == type_)
                         .values(id_token=key))  # fmt: skip


class DuplicateCredentials(RuntimeError):
    """Existing tokens share one credential key: resolve them before upgrading."""


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_TOKENS.c.id, _TOKENS.c.value, _TOKENS.c.type,
                                  _TOKENS.c.account).order_by(_TOKENS.c.id)).all()  # fmt: skip
    seen: dict[str, list[tuple[int, str, str | None]]] = {}
    for id_, value, type_, account in rows:
        seen.setdefault(_key(value, type_), []).append((id_, type_, account))
    clashes = {k: v for k, v in seen.items() if len(v) > 1}
    if clashes:
        lines = [f"  {k}: " + ", ".join(f"id {i} ({t}, account {a or '-'})" for i, t, a in v)
                 for k, v in sorted(clashes.items())]  # fmt: skip
        raise DuplicateCredentials(
            "id_tokens: these values are registered more than once under different types; one "
            "physical token must be one credential. Keep the rightful one of each and delete "
            "the others (DELETE FROM id_tokens WHERE id IN (…)), then upgrade again:\n"
            + "\n".join(lines)
        )
    rekeyed: dict[str, str] = {}
    for id_, value, type_, _ in rows:
        key = _key(value, type_)
        if key != value:
            conn.execute(sa.update(_TOKENS).where(_TOKENS.c.id == id_).values(value=key))
            rekeyed[value] = key
    _rekey_sessions(conn)
    for old, new in rekeyed.items():  # a binding names the card by its stored value
        taken = conn.execute(sa.select(_BINDINGS.c.id_token)
                             .where(_BINDINGS.c.id_token == new)).first()  # fmt: skip
        if taken is None:
            conn.execute(sa.update(_BINDINGS).where(_BINDINGS.c.id_token == old)
                         .values(id_token=new))  # fmt: skip
    with op.batch_alter_table("id_tokens") as batch:
        batch.drop_constraint("uq_id_tokens_value_type", type_="unique")
        batch.create_unique_constraint("uq_id_tokens_value", ["value"])
        batch.add_column(sa.Column("claim_code_hash", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("id_tokens") as batch:
        batch.drop_column("claim_code_hash")
        batch.drop_constraint("uq_id_tokens_value", type_="unique")
        batch.create_unique_constraint("uq_id_tokens_value_type", ["value", "type"])
