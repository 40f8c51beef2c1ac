"""The signed-in driver's billing profile: `GET/PUT /api/v1/me/profile` (accounts owns it)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from evbill.accounts.profiles import CustomerProfile, ProfileError, ProfileStore
from evbill.accounts.roles import Role
from evbill.api.auth import Allow, Principal
from evbill.api.context import context_of
from evbill.api.problems import BadRequest

router = APIRouter(prefix="/api/v1/me", tags=["driver"])
Driver = Annotated[Principal, Depends(Allow(Role.DRIVER))]


class ProfileIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=200)
    postcode: str = Field(default="", max_length=32)
    city: str = Field(min_length=1, max_length=100)
    country: str = Field(min_length=2, max_length=2, description="ISO 3166 alpha-2")
    vat_id: str | None = Field(default=None, max_length=32)


class ProfileOut(BaseModel):
    account: str
    profile: ProfileIn | None = Field(description="null until set")
    documents: Literal["full", "simplified"] = Field(
        description="full invoices name the profile; without one, simplified invoices")


def _out(account: str, profile: CustomerProfile | None) -> ProfileOut:
    return ProfileOut(account=account,
                      profile=None if profile is None else ProfileIn(**profile.to_json()),
                      documents="simplified" if profile is None else "full")  # fmt: skip


@router.get("/profile")
def my_profile(request: Request, who: Driver) -> ProfileOut:
    """Your billing name, address and VAT id (`profile` null until set)."""
    assert who.token_account is not None
    return _out(who.token_account, ProfileStore(context_of(request).db).get(who.token_account))


@router.put("/profile")
def set_my_profile(request: Request, who: Driver, body: ProfileIn) -> ProfileOut:
    """Set your billing profile; later documents name it (issued ones never change)."""
    assert who.token_account is not None
    ctx = context_of(request)
    try:
        profile = CustomerProfile.of(**body.model_dump())
        ProfileStore(ctx.db).set(who.token_account, profile, now=ctx.clock())
    except ProfileError as exc:
        raise BadRequest(str(exc)) from None
    return _out(who.token_account, profile)
