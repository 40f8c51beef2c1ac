"""A driver's cards (id tokens), payment methods and wallet."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from sqlalchemy import select

from evbill.accounts.roles import Role
from evbill.accounts.tokens import ClaimRefused, TokenRegistry
from evbill.api.auth import Allow, Principal
from evbill.api.context import context_of
from evbill.api.idempotency import claim_key
from evbill.api.params import Name, RowId
from evbill.api.problems import BadRequest, Conflict, NotFound, TooManyRequests
from evbill.api.schemas import (
    IdTokenIn,
    IdTokenOut,
    PaymentMethodIn,
    PaymentMethodOut,
    TopUpIn,
    WalletOut,
    money_out,
)
from evbill.money import Money, MoneyError
from evbill.payments.modes import bind_wallet_cards
from evbill.payments.provider import PaymentMethod
from evbill.payments.wallet_topup import WalletService
from evbill.sessions.commands import IdTokenType
from evbill.store.tables import IdTokenRow

router = APIRouter(prefix="/api/v1/me", tags=["driver"])
Driver = Annotated[Principal, Depends(Allow(Role.DRIVER))]


def _token_out(row: IdTokenRow) -> IdTokenOut:
    return IdTokenOut(id=row.id, uid=row.value, type=row.type, status=row.status,
                      group_id=row.group_id)  # fmt: skip


@router.get("/id-tokens")
def my_cards(request: Request, who: Driver) -> list[IdTokenOut]:
    with context_of(request).db.read_sessions() as s:
        rows = s.scalars(select(IdTokenRow).where(IdTokenRow.account == who.token_account)
                         .order_by(IdTokenRow.id))  # fmt: skip
        return [_token_out(r) for r in rows]


@router.post("/id-tokens", status_code=201)
def add_card(request: Request, who: Driver, body: IdTokenIn) -> IdTokenOut:
    """Link a card the operator issued to your account, with the verification code printed
    on it (proof of possession; see docs/accounts.md). Linking the same card again is a no-op.
    Failed attempts are limited per driver like sign-ins."""
    ctx = context_of(request)
    try:
        kind = IdTokenType(body.type)
    except ValueError:
        raise BadRequest(f"type: {body.type!r} is not an OCPP IdTokenType") from None
    limit_key = [f"card-claim:{_account(who)}"]
    attempt = ctx.limiter.attempt(limit_key, ctx.clock())
    if wait := attempt.retry_after:
        raise TooManyRequests(f"verification_code: too many failed attempts; retry in {wait} s",
                              headers={"Retry-After": str(wait)})  # fmt: skip
    try:
        row = TokenRegistry(ctx.db).claim(body.uid, body.verification_code, _account(who),
                                          ctx.claim_codes, type_=kind)  # fmt: skip
    except ClaimRefused as exc:
        raise Conflict(str(exc)) from None  # the attempt stays counted
    ctx.limiter.succeeded(attempt, limit_key)
    ctx.cards.forget(_account(who))  # this process's history shows the new card at once
    bind_wallet_cards(ctx, _account(who))  # a wallet payer's new card meets the minimum
    return _token_out(row)


@router.delete("/id-tokens/{token_id}", status_code=204)
def block_card(request: Request, who: Driver, token_id: RowId) -> None:
    """Block a lost card (it stays in your history)."""
    with context_of(request).db.sessions() as s, s.begin():
        row = s.get(IdTokenRow, token_id)
        if row is None or row.account != who.token_account:
            raise NotFound(f"token_id: no card {token_id}")
        row.status = "Blocked"


def _method_out(method: PaymentMethod) -> PaymentMethodOut:
    return PaymentMethodOut(id=method.token, kind=method.kind.value, brand=method.brand,
                            last4=method.last4, exp_month=method.exp_month,
                            exp_year=method.exp_year)  # fmt: skip


def _account(who: Principal) -> str:
    assert who.token_account is not None
    return who.token_account


@router.get("/payment-methods")
def my_payment_methods(request: Request, who: Driver) -> list[PaymentMethodOut]:
    return [_method_out(m) for m in WalletService(context_of(request)).methods(_account(who))]


@router.post("/payment-methods", status_code=201)
def add_payment_method(request: Request, who: Driver, body: PaymentMethodIn) -> PaymentMethodOut:
    """Save a payment method by its provider token (card data never reaches evbill)."""
    return _method_out(WalletService(context_of(request)).add_method(_account(who), body.token))


@router.delete("/payment-methods/{method_id}", status_code=204)
def remove_payment_method(request: Request, who: Driver, method_id: Name) -> None:
    """Forget a saved payment method (another driver's method is not found)."""
    removed = context_of(request).payments.remove_payment_method(
        _account(who), method_id, actor=f"driver:{who.user_id}")
    if not removed:
        raise NotFound(f"method_id: no payment method {method_id!r}")


@router.get("/wallet")
def my_wallet(request: Request, who: Driver) -> WalletOut:
    """The prepaid balance (sessions are paid from it while it is positive)."""
    shown = money_out(WalletService(context_of(request)).balance(_account(who)))
    assert shown is not None
    return WalletOut(balance=shown)


@router.post("/wallet/top-ups", status_code=201)
def top_up(
    request: Request, who: Driver, body: TopUpIn,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> WalletOut:  # fmt: skip
    """Charge a saved payment method and credit the wallet (send an Idempotency-Key)."""
    try:
        amount = Money.of(body.amount, body.currency.upper())
    except MoneyError as exc:
        raise BadRequest(f"amount: {exc}") from None
    if idempotency_key is not None:
        claim_key(context_of(request), f"wallet-top-up:{who.token_account}", idempotency_key,
                  {"amount": amount.amount.normalize(), "currency": amount.currency,
                   "payment_method_id": body.payment_method_id})
    key = idempotency_key or secrets.token_hex(8)
    balance = WalletService(context_of(request)).top_up(_account(who), amount,
                                                        body.payment_method_id, key)
    shown = money_out(balance)
    assert shown is not None
    return WalletOut(balance=shown)
