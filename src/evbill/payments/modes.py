"""How a driver account pays for its sessions, in the payment service's modes: `wallet`
(prepaid: a start needs the station's wallet minimum) or `postpaid` (the monthly invoice).

The mode lives where the gateway's session billing hooks read it: each card's binding in
`payment_token_bindings` (account = the driver's token account). A driver's unbound card
follows the account: postpaid when another card is bound postpaid (a fleet contract), a wallet
payer once the account has a wallet (it topped up), postpaid before. `bind_wallet_cards` writes
the bindings once the account pays by wallet, so RFID starts meet the same minimum at the
station as app starts do here.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from evbill.accounts.credentials import account_credentials, account_of
from evbill.payments.app_context import PaymentsApp
from evbill.payments.model import WalletBelowMinimum
from evbill.payments.refusals import PaymentRefused
from evbill.payments.tables import (
    PaymentAccountModeRow,
    PaymentTokenBindingRow,
    PaymentWalletRow,
)

__all__ = ["DRIVER_PREFIX", "POSTPAID", "WALLET", "TokenPayment", "account_mode",
           "admit_start", "bind_wallet_cards", "token_payment"]

log = logging.getLogger(__name__)

DRIVER_PREFIX = "driver."  # a driver's token account; ledger segments allow no colon
WALLET, POSTPAID = "wallet", "postpaid"


@dataclass(frozen=True, slots=True)
class TokenPayment:
    mode: str  # adhoc | wallet | postpaid, as in payment_token_bindings
    account: str
    bound: bool  # a binding says so (the gateway's hooks charge it), or the account's mode


def account_mode(s: Session, account: str) -> str:
    """`wallet` or `postpaid` for a driver account (see the module docstring); a mode the
    operator set for the account (`account_modes`) comes first."""
    chosen = s.scalar(select(PaymentAccountModeRow.mode)
                      .where(PaymentAccountModeRow.account == account))
    if chosen is not None:
        return chosen
    bound = set(s.scalars(select(PaymentTokenBindingRow.mode)
                          .where(PaymentTokenBindingRow.account == account)))
    if POSTPAID in bound:
        return POSTPAID
    if WALLET in bound or s.get(PaymentWalletRow, account) is not None:
        return WALLET
    return POSTPAID


def token_payment(s: Session, id_token: str) -> TokenPayment | None:
    """How a session on `id_token` pays: its binding, else its driver account's mode; None for
    a token the payment rules leave alone (unbound, not a driver's: an ad hoc page's token)."""
    binding = s.get(PaymentTokenBindingRow, id_token)
    if binding is not None:
        return TokenPayment(binding.mode, binding.account, bound=True)
    account = account_of(s, id_token)
    if account is None or not account.startswith(DRIVER_PREFIX):
        return None
    return TokenPayment(account_mode(s, account), account, bound=False)


def admit_start(ctx: PaymentsApp, id_token: str, station_id: str) -> None:
    """The start rule of the session billing hooks, before anything is sent to the station:
    a wallet payer needs the station's wallet minimum; postpaid and ad hoc tokens pass (the
    gateway places an ad hoc token's hold when the station asks)."""
    with ctx.db.read_sessions() as s:
        payment = token_payment(s, id_token)
    if payment is None or payment.mode != WALLET:
        return
    try:
        ctx.payments.check_wallet_start(payment.account, station_id)
    except WalletBelowMinimum:
        balance = ctx.payments.wallet_balance(payment.account)
        minimum = ctx.payments.ctx.settings.wallet_minimum_for(station_id)
        log.info("payments.start_refused station_id=%s account=%s reason=wallet_minimum",
                 station_id, payment.account)
        raise PaymentRefused(f"wallet: balance {balance} below the minimum {minimum} to "
                              "start; top up first") from None


def bind_wallet_cards(ctx: PaymentsApp, account: str) -> int:
    """Bind the account's unbound cards in `wallet` mode if it pays by wallet, so the gateway
    applies the wallet minimum to them too. Returns how many were bound; idempotent."""
    with ctx.db.read_sessions() as s:
        if account_mode(s, account) != WALLET:
            return 0
        bound = select(PaymentTokenBindingRow.id_token)
        known = account_credentials(account)
        cards = list(s.scalars(known.where(known.selected_columns[0].not_in(bound))))
    done = 0
    for card in cards:
        try:
            with ctx.db.sessions() as s, s.begin():
                s.add(PaymentTokenBindingRow(id_token=card, mode=WALLET, account=account,
                                             payment_method_token=None,
                                             created_at=ctx.clock()))
            done += 1
        except IntegrityError:
            continue  # bound meanwhile (another process, or an operator's binding): theirs
    if done:
        log.info("payments.cards_bound account=%s mode=wallet count=%d", account, done)
    return done
