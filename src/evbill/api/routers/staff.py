"""An operator admin's people and cards: staff users of their own network (create, list,
disable) and RFID cards issued with a verification code for drivers to link."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from evbill.accounts.roles import Role
from evbill.accounts.tokens import TokenError, TokenRegistry
from evbill.accounts.users import Profile
from evbill.api.auth import Allow, Principal
from evbill.api.context import context_of
from evbill.api.problems import BadRequest, Conflict
from evbill.api.schemas import Body, IssuedIdTokenOut, IssueIdTokenIn
from evbill.api.users import translated, users_of
from evbill.sessions.commands import IdTokenType

router = APIRouter(prefix="/api/v1/operator", tags=["operator"])
Admin = Annotated[Principal, Depends(Allow(Role.OPERATOR_ADMIN))]


class StaffIn(Body):
    email: str = Field(min_length=3, max_length=254)
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=1, max_length=256)
    role: Literal["operator_admin", "finance"]


class StaffOut(BaseModel):
    id: str
    email: str
    name: str
    role: str
    operator_id: str | None
    disabled: bool
    created_at: datetime | None


def _staff_out(p: Profile) -> StaffOut:
    return StaffOut(id=p.user_id, email=p.email, name=p.name, role=p.role,
                    operator_id=p.operator_id, disabled=p.disabled,
                    created_at=p.created_at)  # fmt: skip


@router.get("/users")
def staff_users(request: Request, who: Admin) -> list[StaffOut]:
    """The staff of your network (admins and finance), oldest first."""
    return [_staff_out(p) for p in users_of(context_of(request)).staff(who.network)]


@router.post("/users", status_code=201)
def create_staff_user(request: Request, who: Admin, body: StaffIn) -> StaffOut:
    """A staff user of your network, with the same password rules as drivers."""
    service = users_of(context_of(request))
    with translated():
        row = service.create(body.email, body.password, body.name, Role(body.role), who.network)
        return _staff_out(service.profile(row.id))


@router.post("/users/{user_id}/disable")
def disable_staff_user(request: Request, who: Admin,
                       user_id: Annotated[str, Field(max_length=32)]) -> StaffOut:  # fmt: skip
    """Disable a staff user of your network: they can no longer sign in, and their tokens stop
    working (at once in this process, within the user cache's seconds in others)."""
    if user_id == who.user_id:
        raise Conflict("user_id: you cannot disable yourself; ask another admin")
    ctx = context_of(request)
    with translated():
        profile = users_of(ctx).set_disabled(user_id, True, operator_id=who.network)
    ctx.users.forget(user_id)
    return _staff_out(profile)


@router.post("/id-tokens", status_code=201)
def issue_card(request: Request, who: Admin, body: IssueIdTokenIn) -> IssuedIdTokenOut:
    """Register a card for a driver to link: the answer's verification code goes on the card
    (or its letter) and is shown only here; evbill keeps only its keyed hash."""
    ctx = context_of(request)
    try:
        kind = IdTokenType(body.type)
    except ValueError:
        raise BadRequest(f"type: {body.type!r} is not an OCPP IdTokenType") from None
    try:
        issued = TokenRegistry(ctx.db).issue(body.uid, ctx.claim_codes, type_=kind,
                                             group_id=body.group_id, now=ctx.clock())
    except TokenError as exc:
        raise Conflict(str(exc)) from None
    row = issued.row
    return IssuedIdTokenOut(id=row.id, uid=row.value, type=row.type, status=row.status,
                            group_id=row.group_id, verification_code=issued.code)  # fmt: skip
