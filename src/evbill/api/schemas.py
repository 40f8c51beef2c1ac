"""HTTP request and response bodies: money as strings with a currency, times in ISO 8601 with
an offset, energy in kWh as a decimal string."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from evbill.money import Money

__all__ = [
    "MoneyOut",
    "SessionOut",
    "kwh",
    "money_out",
]


class MoneyOut(BaseModel):
    amount: str = Field(examples=["12.34"])
    currency: str = Field(examples=["EUR"])


def money_body(value: Money, *, exact: bool = False) -> dict[str, str]:
    """Money as it travels: rounded to the currency's minor unit unless `exact`."""
    shown = value if exact else value.round_to_minor()
    return {"amount": f"{shown.amount:f}", "currency": shown.currency}


def money_out(value: Money | None, *, exact: bool = False) -> MoneyOut | None:
    """`money_body` as a response model."""
    if value is None:
        return None
    return MoneyOut.model_validate(money_body(value, exact=exact))


_WH_PER_KWH, _MILLI = Decimal(1000), Decimal("0.001")


def kwh(wh: Decimal) -> str:
    return f"{(wh / _WH_PER_KWH).quantize(_MILLI):f}"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auth -----------------------------------------------------------------------------------
class SignUp(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)
    name: str = Field(max_length=200)


class SignIn(Body):
    email: str = Field(max_length=320)
    password: str = Field(max_length=256)


class PasswordChange(Body):
    current_password: str = Field(max_length=256)
    new_password: str = Field(max_length=256)


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "Bearer"
    expires_in: int


class ProfileOut(BaseModel):
    user_id: str
    role: str
    email: str
    name: str
    operator_id: str | None


# --- sessions -------------------------------------------------------------------------------
class SessionOut(BaseModel):
    id: int
    station_id: str
    evse_id: int
    state: str
    started_at: datetime
    stopped_at: datetime | None
    energy_kwh: str
    total: MoneyOut | None
    cdr_id: str | None
    links: dict[str, str]


class LiveOut(BaseModel):
    session: SessionOut
    energy_kwh: str
    cost_so_far: MoneyOut | None
    cost_so_far_excl_vat: MoneyOut | None
    power_kw: str | None
    tariff_id: str | None
    at: datetime
    running: bool


class PageOut(BaseModel):
    items: list[Any]
    next_cursor: str | None


class SessionPage(BaseModel):
    items: list[SessionOut]
    next_cursor: str | None


class StartIn(Body):
    station_id: str = Field(max_length=64)
    evse_id: int = Field(ge=1)
    id_token_id: int | None = Field(default=None, description="which of your cards to use")


class CommandOut(BaseModel):
    command_id: str
    station_id: str
    action: str
    status: str


# --- CDRs -----------------------------------------------------------------------------------
class CdrOut(BaseModel):
    id: str
    session_id: int
    total_excl_vat: MoneyOut
    total_incl_vat: MoneyOut | None
    energy_kwh: str
    energy_source: str
    revision: int
    ocpi: dict[str, Any]


class CdrPage(BaseModel):
    items: list[CdrOut]
    next_cursor: str | None


# --- id tokens, payment methods, wallet -------------------------------------------------------
class IdTokenIn(Body):
    uid: str = Field(min_length=1, max_length=255)
    type: str = Field(default="ISO14443", max_length=32)
    verification_code: str = Field(
        min_length=1, max_length=32,
        description="the code the operator issued with the card (proof of possession)",
    )


class IssueIdTokenIn(Body):
    uid: str = Field(min_length=1, max_length=255)
    type: str = Field(default="ISO14443", max_length=32)
    group_id: str | None = Field(default=None, max_length=64)


class IssuedIdTokenOut(BaseModel):
    id: int
    uid: str
    type: str
    status: str
    group_id: str | None
    verification_code: str = Field(description="print it on the card; shown only once")


class IdTokenOut(BaseModel):
    id: int
    uid: str
    type: str
    status: str
    group_id: str | None


class PaymentMethodIn(Body):
    token: str = Field(min_length=1, max_length=128, description="a provider token, never a PAN")


class PaymentMethodOut(BaseModel):
    id: str = Field(description="the provider token: use it as payment_method_id")
    kind: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


class TopUpIn(Body):
    amount: str = Field(pattern=r"^\d{1,6}(\.\d{1,2})?$", examples=["20.00"])
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    payment_method_id: str


class WalletOut(BaseModel):
    balance: MoneyOut
