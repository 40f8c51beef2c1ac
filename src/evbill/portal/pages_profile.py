"""The driver's billing profile page: see and edit the name, address and VAT id full invoices
name. The rules (what a valid profile is, setting it twice changes nothing) are the accounts
package's, the same the API uses (`PUT /api/v1/me/profile`); this page only translates."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from evbill.accounts.profiles import CustomerProfile, ProfileError, ProfileStore
from evbill.accounts.roles import Role
from evbill.api.auth import Allow, Principal
from evbill.api.context import context_of
from evbill.portal.csrf import CsrfCheck
from evbill.portal.page import page

router = APIRouter(prefix="/portal", include_in_schema=False)
Driver = Annotated[Principal, Depends(Allow(Role.DRIVER, portal=True))]
Checked = [Depends(CsrfCheck())]
_EMPTY = {"name": "", "address": "", "postcode": "", "city": "", "country": "", "vat_id": ""}


def _account(who: Principal) -> str:
    assert who.token_account is not None
    return who.token_account


@router.get("/profile")
def profile(request: Request, who: Driver, flash: str | None = None) -> Response:
    stored = ProfileStore(context_of(request).db).get(_account(who))
    values = _EMPTY if stored is None else {**stored.to_json(), "vat_id": stored.vat_id or ""}
    return page(request, "driver_profile.html", who, values=values, stored=stored is not None,
                error=None, flash=flash)  # fmt: skip


@router.post("/profile", dependencies=Checked)
def save_profile(
    request: Request, who: Driver,
    name: Annotated[str, Form(max_length=200)],
    address: Annotated[str, Form(max_length=200)],
    city: Annotated[str, Form(max_length=100)],
    country: Annotated[str, Form(max_length=2)],
    postcode: Annotated[str, Form(max_length=32)] = "",
    vat_id: Annotated[str, Form(max_length=32)] = "",
) -> Response:  # fmt: skip
    ctx = context_of(request)
    try:
        value = CustomerProfile.of(name=name, address=address, postcode=postcode, city=city,
                                   country=country, vat_id=vat_id or None)  # fmt: skip
        changed = ProfileStore(ctx.db).set(_account(who), value, now=ctx.clock())
    except ProfileError as exc:  # shown with what was typed, nothing stored
        typed = {"name": name, "address": address, "postcode": postcode, "city": city,
                 "country": country, "vat_id": vat_id}  # fmt: skip
        stored = ProfileStore(ctx.db).get(_account(who)) is not None
        return page(request, "driver_profile.html", who, status=400, values=typed,
                    stored=stored, error=str(exc), flash=None)  # fmt: skip
    note = "Billing profile saved." if changed else "Billing profile unchanged."
    return RedirectResponse(f"/portal/profile?flash={note}", status_code=303)
