"""The real payment means of a document (UNTDID 4461), from the payment that settled it:
card 48 (brand and last four digits as the provider reported them, never more), prepaid
wallet (paid, nothing due), and for a credit note where the money goes back."""

from __future__ import annotations

from sqlalchemy.orm import Session

from evbill.payments.tables import PaymentAuthorizationRow, PaymentChargeRow, PaymentMethodRow

__all__ = ["CARD", "CLEARING", "WALLET", "credit_means", "paid_means"]

CARD = "48"  # bank card
WALLET = "ZZZ"  # mutually defined: the operator's prepaid wallet
CLEARING = "97"  # clearing between partners: set off against the account


def _card(s: Session, charge: PaymentChargeRow) -> dict[str, str]:
    """Brand and last four of the card the charge was captured on (nothing if unknown)."""
    if charge.authorization_id is None:
        return {}
    hold = s.get(PaymentAuthorizationRow, charge.authorization_id)
    method = None if hold is None else s.get(PaymentMethodRow, hold.payment_method_token)
    if method is None:
        return {}
    last4 = method.last4[-4:]
    return {"brand": method.brand, "last4": last4} if last4.isdigit() else {
        "brand": method.brand}


def _card_text(details: dict[str, str]) -> str:
    brand = details.get("brand", "card").title() if details.get("brand") else "card"
    last4 = details.get("last4")
    return f"{brand} ending {last4}" if last4 else brand


def paid_means(s: Session, charge: PaymentChargeRow) -> tuple[str, str, dict[str, str]]:
    """(code, note, details) of a receipt: paid by card or from the wallet."""
    if charge.method == "card":
        details = _card(s, charge)
        return CARD, f"Paid by {_card_text(details)}", details
    return WALLET, "Paid from the prepaid wallet; nothing is due", {"wallet": "prepaid wallet"}


def credit_means(s: Session, charge: PaymentChargeRow) -> tuple[str, str, dict[str, str]]:
    """(code, note, details) of a credit note: how the money goes back."""
    if charge.method == "card":
        details = _card(s, charge)
        refund_to = f"refunded to the {_card_text(details)}"
        return CARD, refund_to.capitalize(), {**details, "refund_to": refund_to}
    if charge.method == "wallet":
        refund_to = "credited to the prepaid wallet"
        return WALLET, refund_to.capitalize(), {"wallet": "prepaid wallet",
                                                "refund_to": refund_to}
    refund_to = "set off against the account's next invoice"
    return CLEARING, refund_to.capitalize(), {"refund_to": refund_to}
