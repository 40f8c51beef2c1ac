"""Prepaid wallet, postpaid account and refund flows on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from evbill.ledger import accounts
from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.model import (
    ChargeNotFound,
    HoldOutcome,
    SessionCharge,
    WalletBelowMinimum,
    WalletTopupDeclined,
)
from evbill.payments.provider import DeclineCode, RefundExceedsCaptured
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.tables import PaymentWalletMovementRow

from .conftest import Flows

CLEARING = accounts.provider_clearing("sandbox")
WALLET = accounts.wallet("drv-1")
REFUNDS = accounts.refunds("op-1")
VAT = accounts.vat_payable("DE", "19")


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def charge(reference: str, net: str, vat: str) -> SessionCharge:
    return SessionCharge(reference, "op-1", eur(net), (VatLine("DE", "19", eur(vat)),))


def token(flows: Flows, pan: str = cards.CARD_SUCCESS) -> str:
    return flows.service.add_card("drv-1", pan, 12, 2030, "123").token


# --- prepaid wallet -------------------------------------------------------------------------


def test_top_up_pay_and_refuse_below_the_minimum(flows: Flows) -> None:
    svc = flows.service
    with pytest.raises(WalletBelowMinimum, match=r"below the minimum 10\.00 EUR"):
        svc.check_wallet_start("drv-1", "CP-1")
    assert svc.top_up("drv-1", eur("30.00"), token(flows), "topup-1") == eur("30.00")
    assert flows.balance(WALLET) == Decimal("-30.00")  # a liability: we owe the driver
    assert flows.balance(CLEARING) == Decimal("30.00")
    assert svc.check_wallet_start("drv-1", "CP-1") == eur("30.00")
    assert svc.pay_from_wallet("drv-1", charge("sess-1", "10.50", "2.00")) == eur("17.50")
    with pytest.raises(WalletBelowMinimum, match=r"minimum 20\.00 EUR to start at CP-FAST"):
        svc.check_wallet_start("drv-1", "CP-FAST")
    assert svc.pay_from_wallet("drv-1", charge("sess-1", "10.50", "2.00")) == eur("17.50")
    assert flows.balance(WALLET) == Decimal("-17.50")
    assert flows.balance(accounts.revenue("op-1")) == Decimal("-10.50")
    assert flows.ledger.trial_balance().balanced


def test_top_up_is_idempotent_and_declines_change_nothing(flows: Flows) -> None:
    svc = flows.service
    svc.top_up("drv-1", eur("30.00"), token(flows), "topup-1")
    assert svc.top_up("drv-1", eur("30.00"), token(flows), "topup-1") == eur("30.00")
    with pytest.raises(WalletTopupDeclined) as info:
        svc.top_up("drv-1", eur("30.00"), token(flows, cards.CARD_INSUFFICIENT_FUNDS), "topup-2")
    assert info.value.code is DeclineCode.INSUFFICIENT_FUNDS
    assert svc.wallet_balance("drv-1") == eur("30.00")
    assert [op for op, _ in flows.sandbox.executed] == ["authorize", "capture", "authorize"]
    assert flows.sandbox.settle()[0].amount == eur("30.00")


def test_wallet_goes_negative_only_with_a_recorded_reason(flows: Flows) -> None:
    svc = flows.service
    svc.top_up("drv-1", eur("15.00"), token(flows), "topup-1")
    assert svc.pay_from_wallet("drv-1", charge("sess-1", "14.00", "2.66")) == eur("-1.66")
    with flows.db.read_sessions() as r:
        movements = r.scalars(select(PaymentWalletMovementRow)
                              .order_by(PaymentWalletMovementRow.id)).all()
    assert [(m.kind, m.amount, m.reason) for m in movements] == [
        ("topup", Decimal("15.00"), None),
        ("spend", Decimal("-16.66"), "session cost 16.66 EUR exceeded the balance 15.00 EUR"),
    ]
    assert flows.balance(WALLET) == Decimal("1.66")  # the driver now owes us


def test_wallet_refund_goes_back_to_the_wallet(flows: Flows) -> None:
    svc = flows.service
    svc.top_up("drv-1", eur("50.00"), token(flows), "topup-1")
    svc.pay_from_wallet("drv-1", charge("sess-1", "20.00", "3.80"))
    refund = svc.refund("sess-1", None, reason="station fault", actor="operator:anna",
                        key="refund-1")
    assert refund.amount == eur("23.80") and refund.method == "wallet"
    assert svc.wallet_balance("drv-1") == eur("50.00")
    assert flows.balance(WALLET) == Decimal("-50.00")
    assert flows.balance(REFUNDS) == Decimal("20.00") and flows.balance(VAT) == 0


# --- postpaid -------------------------------------------------------------------------------


def test_postpaid_posts_to_the_receivable_and_refunds_reduce_it(flows: Flows) -> None:
    svc = flows.service
    receivable = accounts.receivable("fleet-7")
    svc.post_to_account("fleet-7", charge("sess-9", "84.03", "15.97"))
    svc.post_to_account("fleet-7", charge("sess-9", "84.03", "15.97"))  # replay
    assert flows.balance(receivable) == Decimal("100.00")
    svc.refund("sess-9", eur("10.00"), reason="goodwill", actor="operator:anna", key="r-1")
    assert flows.balance(receivable) == Decimal("90.00")
    assert flows.balance(VAT) == Decimal("-14.37")  # 15.97 − round(15.97 × 10/100)
    assert flows.sandbox.executed == []  # no card was involved
    assert flows.ledger.trial_balance().balanced


# --- card refunds -----------------------------------------------------------------------------


def test_card_refunds_partial_then_rest_never_more(flows: Flows) -> None:
    svc = flows.service
    result = svc.authorize_hold(reference="sess-1", account="drv-1",
                                payment_method_token=token(flows))
    assert result.outcome is HoldOutcome.AUTHORIZED
    svc.capture(charge("sess-1", "25.21", "4.79"))
    first = svc.refund("sess-1", eur("10.00"), reason="slow charging", actor="operator:anna",
                       key="r-1")
    again = svc.refund("sess-1", eur("10.00"), reason="slow charging", actor="operator:anna",
                       key="r-1")
    assert again == first and first.status == "succeeded"
    rest = svc.refund("sess-1", None, reason="charger fault", actor="operator:ben", key="r-2")
    assert rest.amount == eur("20.00")
    with pytest.raises(RefundExceedsCaptured, match="left to refund"):
        svc.refund("sess-1", eur("0.01"), reason="x", actor="operator:ben", key="r-3")
    assert flows.balance(CLEARING) == 0
    assert flows.balance(REFUNDS) == Decimal("25.21") and flows.balance(VAT) == 0
    assert [r.amount for r in svc.refunds.refunds_of("sess-1")] == [eur("10.00"), eur("20.00")]
    trail = [(action, actor, detail.get("amount")) for _, action, actor, detail
             in svc.audit_trail("sess-1") if action == "refund"]
    assert trail == [("refund", "operator:anna", "10.00 EUR"), ("refund", "operator:ben",
                                                                 "20.00 EUR")]
    assert [op for op, _ in flows.sandbox.executed] == ["authorize", "capture", "refund",
                                                        "refund"]


def test_refund_of_an_unknown_session(flows: Flows) -> None:
    with pytest.raises(ChargeNotFound):
        flows.service.refund("nope", None, reason="x", actor="a", key="k")


def test_a_refund_overtaken_by_a_concurrent_one_is_reversed_not_paid_twice(
        flows: Flows, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two operators refund the same postpaid session at once: the one that commits second
    finds nothing left, its ledger posting is reversed and the books show one refund."""
    svc = flows.service
    receivable = accounts.receivable("fleet-7")
    svc.post_to_account("fleet-7", charge("sess-9", "84.03", "15.97"))
    give_back = svc.refunds._give_back
    overtaken = False

    def racing_give_back(*args: object) -> object:
        nonlocal overtaken
        if not overtaken:  # the other operator's refund commits while ours is under way
            overtaken = True
            svc.refund("sess-9", None, reason="fault", actor="operator:ben", key="r-ben")
        return give_back(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(svc.refunds, "_give_back", racing_give_back)
    with pytest.raises(RefundExceedsCaptured, match="concurrent refund"):
        svc.refund("sess-9", None, reason="fault", actor="operator:anna", key="r-anna")
    assert [r.amount for r in svc.refunds.refunds_of("sess-9")] == [eur("100.00")]
    assert flows.balance(receivable) == Decimal("0.00")
    assert flows.balance(REFUNDS) == Decimal("84.03") and flows.balance(VAT) == 0
    assert flows.ledger.trial_balance().balanced
    assert flows.ledger.verify().ok
