"""How station sessions pay when the token has no payment binding of its own, as the operator
chose: per account (`evbill accounts add A --mode postpaid|wallet`) or network-wide (the
default, `evbill accounts default --mode postpaid`: every accepted card with an account is
billed that way to its account).

The rule a session's token follows, first match wins:
1. the token's own binding (`payment_token_bindings`: an ad hoc card hold, a driver's wallet);
2. its account's mode, as the operator set it here;
3. for an account that is neither a driver's (the app's wallet rules apply, `modes`) nor an
   ad hoc payer's, the network default, if one is set;
4. nothing: the session is rated and not charged (the operator chose no mode).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from evbill.accounts.credentials import account_of
from evbill.ledger import accounts as ledger_accounts
from evbill.ledger.errors import InvalidAccount
from evbill.payments.context import log
from evbill.payments.refusals import Invalid
from evbill.payments.tables import PaymentAccountModeRow, PaymentTokenBindingRow
from evbill.store.database import Database

__all__ = ["ACCOUNT_MODES", "DEFAULT", "AccountModes", "account_binding"]

ACCOUNT_MODES = ("postpaid", "wallet")
#: The row holding the network default (not a valid account name: `*` is no ledger segment).
DEFAULT = "*"
_DRIVER, _ADHOC = "driver.", "adhoc."


def account_binding(s: Session, id_token: str, now: datetime) -> PaymentTokenBindingRow | None:
    """Steps 2 and 3 of the module's rule for a token without its own binding: an unsaved
    binding row (mode and account) for the session billing hooks, or None."""
    account = account_of(s, id_token)
    if not account or account.startswith(_ADHOC):
        return None
    mode = s.scalar(select(PaymentAccountModeRow.mode)
                    .where(PaymentAccountModeRow.account == account))
    if mode is None and not account.startswith(_DRIVER):
        mode = s.scalar(select(PaymentAccountModeRow.mode)
                        .where(PaymentAccountModeRow.account == DEFAULT))
    if mode is None:
        return None
    return PaymentTokenBindingRow(id_token=id_token, mode=mode, account=account,
                                  payment_method_token=None, created_at=now)


class AccountModes:
    """The operator's payment modes per account and the network default."""

    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def set(self, account: str, mode: str) -> None:
        """Say how `account`'s sessions pay (again: changes it for sessions from now on)."""
        _check_mode(mode)
        _check_account(account)
        self._write(account, mode)
        log.info("payments.account_mode account=%s mode=%s", account, mode)

    def set_default(self, mode: str | None) -> None:
        """The network default for accounts without a mode (None: no default)."""
        if mode is None:
            with self.db.sessions() as s:
                row = s.get(PaymentAccountModeRow, DEFAULT)
                if row is not None:
                    s.delete(row)
                s.commit()
        else:
            _check_mode(mode)
            self._write(DEFAULT, mode)
        log.info("payments.default_mode mode=%s", mode)

    def get(self, account: str) -> str | None:
        with self.db.read_sessions() as s:
            return s.scalar(select(PaymentAccountModeRow.mode)
                            .where(PaymentAccountModeRow.account == account))

    def default(self) -> str | None:
        return self.get(DEFAULT)

    def listing(self) -> list[tuple[str, str]]:
        """(account, mode) of every account with a mode set, the default (`*`) first."""
        with self.db.read_sessions() as s:
            rows = s.execute(select(PaymentAccountModeRow.account, PaymentAccountModeRow.mode)
                             .order_by(PaymentAccountModeRow.account))
            return [(account, mode) for account, mode in rows]

    def _write(self, account: str, mode: str) -> None:
        with self.db.sessions() as s:
            row = s.get(PaymentAccountModeRow, account, with_for_update=True)
            if row is None:
                s.add(PaymentAccountModeRow(account=account, mode=mode, updated_at=self.clock()))
            else:
                row.mode, row.updated_at = mode, self.clock()
            s.commit()


def _check_mode(mode: str) -> None:
    if mode not in ACCOUNT_MODES:
        raise Invalid(f"mode: {mode!r} is not one of {', '.join(ACCOUNT_MODES)}")


def _check_account(account: str) -> None:
    """An account name must work as a ledger segment (its receivable or wallet)."""
    if account.startswith(_ADHOC):
        raise Invalid(f"account: {account!r} is an ad hoc payer's; it pays by card")
    try:
        ledger_accounts.receivable(account)
    except InvalidAccount as exc:
        raise Invalid(str(exc)) from None
