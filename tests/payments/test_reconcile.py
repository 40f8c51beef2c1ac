"""Reconciliation of provider records against the ledger: the sandbox on a real database and
ledger, and Stripe's list endpoints through the recorded SDK."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from evbill.ledger import postings
from evbill.ledger.postings import Meta
from evbill.money import Money
from evbill.payments.providers.stripe import StripeProvider
from evbill.payments.reconcile import Problem, RecordKind, reconcile

from .conftest import Flows
from .stripe_recorder import RecordingHTTPClient

EUR = "EUR"


def _card(flows: Flows) -> str:
    return flows.service.add_card("driver-r", "4242424242424242", 12, 2030, "123").token


def test_a_topped_up_wallet_reconciles_cleanly(flows: Flows) -> None:
    flows.service.top_up("driver-r", Money.of("20.00", EUR), _card(flows), key="top-1")
    assert reconcile(flows.db, flows.sandbox) == []


def test_a_capture_the_ledger_never_booked_is_missing_in_ledger(flows: Flows) -> None:
    token = _card(flows)
    auth = flows.sandbox.authorize(Money.of("9.00", EUR), token, "k-auth", {})
    capture = flows.sandbox.capture(auth.id, Money.of("7.50", EUR), "k-cap")  # behind our back

    [diff] = reconcile(flows.db, flows.sandbox)
    assert diff.problem is Problem.MISSING_IN_LEDGER
    assert (diff.kind, diff.reference) == ("capture", capture.id)
    assert diff.provider_amount == Money.of("7.50", EUR) and diff.ledger_amount is None


def test_a_capture_booked_with_another_amount_is_a_mismatch(flows: Flows) -> None:
    token = _card(flows)
    auth = flows.sandbox.authorize(Money.of("9.00", EUR), token, "k-auth", {})
    capture = flows.sandbox.capture(auth.id, Money.of("7.50", EUR), "k-cap")
    flows.ledger.post(postings.capture(
        Meta(key=f"payments:capture:{auth.id}", reference="s-1", at=flows.clock()),
        "sandbox", "evbill", Money.of("7.05", EUR), ()))

    [diff] = reconcile(flows.db, flows.sandbox)
    assert diff.problem is Problem.AMOUNT_MISMATCH
    assert diff.reference == capture.id
    assert (diff.provider_amount, diff.ledger_amount) == (Money.of("7.50", EUR),
                                                          Money.of("7.05", EUR))


def test_since_leaves_older_records_out(flows: Flows) -> None:
    token = _card(flows)
    auth = flows.sandbox.authorize(Money.of("9.00", EUR), token, "k-auth", {})
    flows.sandbox.capture(auth.id, Money.of("7.50", EUR), "k-cap")
    later = datetime(2030, 1, 1, tzinfo=UTC)
    assert reconcile(flows.db, flows.sandbox, since=later) == []
    assert len(reconcile(flows.db, flows.sandbox)) == 1


@pytest.mark.parametrize("since", [None, datetime(2025, 11, 24, tzinfo=UTC)])
def test_stripe_lists_captured_charges_and_refunds(
        stripe_provider: StripeProvider, stripe_http: RecordingHTTPClient,
        since: datetime | None) -> None:
    stripe_http.serve("list_charges").serve("list_refunds")
    records = stripe_provider.records(since)

    assert [(r.kind, r.provider_ref, r.amount) for r in records] == [
        (RecordKind.CAPTURE, "ch_3QcapturedA", Money.of("7.85", EUR)),
        (RecordKind.REFUND, "re_3QrefundA", Money.of("1.00", EUR)),
    ]  # the uncaptured charge and the failed refund are not money that moved
    assert records[0].authorization_id == "pi_3QholdA"
    charges, refunds = stripe_http.requests
    assert charges.method == "get" and charges.path == "/v1/charges"
    assert refunds.path == "/v1/refunds"
    assert charges.query.get("limit") == "100"
    if since is not None:
        assert charges.query.get("created[gte]") == str(int(since.timestamp()))
    else:
        assert "created[gte]" not in charges.query
