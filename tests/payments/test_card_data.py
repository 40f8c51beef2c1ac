"""Card numbers go in at the vault and nowhere else: every payment path is driven with real
card numbers, then every table of the database and every captured log line is searched."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import MetaData, select

from evbill.ledger.postings import VatLine
from evbill.money import Money
from evbill.payments.model import SessionCharge, WalletTopupDeclined
from evbill.payments.provider import InvalidCardData
from evbill.payments.providers import sandbox_vault as cards
from evbill.payments.providers.sandbox_faults import FaultKind

from .conftest import Flows

PANS = [cards.CARD_MASTERCARD, cards.CARD_3DS_REQUIRED, cards.CARD_INSUFFICIENT_FUNDS,
        cards.CARD_INCREMENT_DECLINED, "378282246310005"]
CVCS = ["7391", "8264"]  # distinctive enough to search for


def eur(amount: str) -> Money:
    return Money.of(amount, "EUR")


def charge(reference: str) -> SessionCharge:
    return SessionCharge(reference, "op-1", eur("42.02"), (VatLine("DE", "19", eur("7.98")),))


def drive_every_path(flows: Flows, errors: list[str]) -> None:
    svc = flows.service
    spaced = "5555 5555 5555 4444"
    good = svc.add_card("drv-1", spaced, 12, 2030, "739").token
    amex = svc.add_card("drv-1", "378282246310005", 11, 2031, CVCS[0]).token
    three_ds = svc.add_card("drv-1", cards.CARD_3DS_REQUIRED, 12, 2030, "826").token
    poor = svc.add_card("drv-1", cards.CARD_INSUFFICIENT_FUNDS, 12, 2030, "123").token
    no_inc = svc.add_card("drv-1", cards.CARD_INCREMENT_DECLINED, 12, 2030, "123").token
    for pan, month, year, cvc in [("5555555555554445", 12, 2030, "739"),
                                  (spaced, 1, 2020, "739"), (spaced, 12, 2030, "73"),
                                  (cards.CARD_MASTERCARD, 12, 2030, CVCS[1])]:
        with pytest.raises(InvalidCardData) as info:
            svc.add_card("drv-1", pan, month, year, cvc)
        errors.append(str(info.value))
    svc.authorize_hold(reference="s-good", account="drv-1", payment_method_token=good)
    svc.on_running_cost("s-good", eur("45"))
    svc.capture(charge("s-good"))
    svc.refund("s-good", eur("5.00"), reason="goodwill", actor="op", key="r-1")
    svc.authorize_hold(reference="s-amex", account="drv-1", payment_method_token=amex)
    svc.void("s-amex", actor="op", reason="test")
    challenged = svc.authorize_hold(reference="s-3ds", account="drv-1",
                                    payment_method_token=three_ds)
    assert challenged.challenge_ref is not None
    flows.sandbox.complete_challenge(challenged.challenge_ref, success=True)
    for webhook in list(flows.sandbox.outbox):
        svc.handle_webhook(webhook.headers, webhook.body)
    flows.sandbox.faults.fail_next(3, FaultKind.UNAVAILABLE, operations={"capture"})
    svc.capture(charge("s-3ds"))
    errors.extend(item.last_error for item in svc.dunning_queue())
    svc.authorize_hold(reference="s-poor", account="drv-1", payment_method_token=poor)
    svc.authorize_hold(reference="s-noinc", account="drv-1", payment_method_token=no_inc)
    svc.on_running_cost("s-noinc", eur("45"))
    svc.top_up("drv-1", eur("20.00"), good, "topup-1")
    with pytest.raises(WalletTopupDeclined) as declined:
        svc.top_up("drv-1", eur("20.00"), poor, "topup-2")
    errors.append(str(declined.value))
    svc.pay_from_wallet("drv-1", charge("s-wallet"))
    flows.clock.advance(timedelta(days=8))
    svc.sweep_holds()
    flows.sandbox.settle()
    for webhook in flows.sandbox.outbox[-1:]:
        svc.handle_webhook(webhook.headers, webhook.body)


def dump_database(flows: Flows) -> str:
    metadata = MetaData()
    metadata.reflect(flows.db.engine)
    parts = []
    with flows.db.engine.connect() as conn:
        for table in metadata.sorted_tables:
            parts.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    return "\n".join(parts)


def test_no_card_number_or_cvc_outside_the_vault(
    flows: Flows, caplog: pytest.LogCaptureFixture
) -> None:
    errors: list[str] = []
    with caplog.at_level(logging.DEBUG):
        drive_every_path(flows, errors)
    database = dump_database(flows)
    logs = "\n".join(
        f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    # The search is not vacuous: payments did log, and the tables hold what evbill keeps.
    assert "payments.capture" in logs and "payments.hold" in logs
    assert "4444" in database and "0005" in database and "mastercard" in database
    assert len(errors) == 6
    haystacks = {"database": database, "logs": logs, "errors": "\n".join(errors)}
    for name, text in haystacks.items():
        for pan in [*PANS, "5555 5555 5555 4444", "5555555555554445"]:
            assert pan not in text, f"card number found in the {name}"
            assert pan.replace(" ", "")[:12] not in text.replace(" ", ""), (
                f"the first 12 digits of a card number found in the {name}")
        for cvc in CVCS:
            assert cvc not in text, f"a CVC found in the {name}"
