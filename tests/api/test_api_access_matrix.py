"""Every route × every role × both tenants: 401 without credentials, 403 for a role the
route does not allow, 404 for another tenant's resource, and success-or-domain-error for the
owner. The routes come from the app itself, so a new endpoint cannot escape the matrix: it
must declare exactly one access dependency, and a body example must be added here."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from access_policy import POLICY
from api_world import PASSWORD, World
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from evbill.api.app import api_routes
from evbill.api.auth import Allow, Public, csrf_token, issue_token, new_cookie
from evbill.api.context import ApiContext
from evbill.payments.settlement_failures import SettlementFailures
from evbill.portal.csrf import CSRF_COOKIE

#: (label, role tenant): who calls. "apikey" is an operator_admin API key of op-a.
CALLERS = {
    "driver": "A", "driver2": "B", "admin": "A", "finance": "A", "admin_b": "B",
    "finance_b": "B", "apikey": "A",
}  # fmt: skip
ROLE_OF = {"driver": "driver", "driver2": "driver", "admin": "operator_admin",
           "finance": "finance", "admin_b": "operator_admin", "finance_b": "finance",
           "apikey": "operator_admin"}  # fmt: skip


def path_values(world: World) -> dict[str, str]:
    """Tenant A's resource for every path parameter name the app uses."""
    return {
        "session_id": str(world.sessions["driver_done"]), "cdr_id": world.cdrs["driver_done"],
        "station_id": "A-1", "evse_id": "1", "token_id": str(world.card_ids["driver"]),
        "method_id": world.methods["driver"], "key_id": world.keys["a_path"],
        "tariff_id": "TA", "payment_id": world.payments["a"], "challenge_ref": "chl_unknown",
        "reference": world.cdrs["driver_done"], "dunning_id": world.dunning,
        "number": world.receipt, "kind": "cii", "user_id": world.users["clerk"].id,
    }  # fmt: skip


#: Routes that end the caller's sessions: called with a token of their own.
REVOKING = {"/api/v1/auth/logout", "/api/v1/me/password"}


def bodies(world: World) -> dict[tuple[str, str], dict[str, Any]]:
    """A valid body for every route that takes one (JSON, or form fields for the portal)."""
    tariff = {"country_code": "DE", "party_id": "EVB", "id": "TA", "currency": "EUR",
              "last_updated": "2026-02-01T00:00:00Z",
              "elements": [{"price_components": [
                  {"type": "ENERGY", "price": 0.31, "vat": 19.0, "step_size": 1}]}]}
    sample = {"start": "2026-03-02T08:00:00Z", "energy_kwh": "20", "charging_minutes": 60}
    return {
        ("POST", "/api/v1/auth/signup"): {"email": "new@example.org", "name": "New",
                                          "password": "long enough password"},
        ("POST", "/api/v1/auth/token"): {"email": "driver@example.org", "password": PASSWORD},
        ("POST", "/api/v1/me/password"): {"current_password": PASSWORD,
                                          "new_password": PASSWORD},
        ("POST", "/api/v1/me/sessions"): {"station_id": "A-1", "evse_id": 1},
        ("POST", "/api/v1/me/id-tokens"): {"uid": "0102030405",
                                           "verification_code": world.claim_codes["0102030405"]},
        ("POST", "/api/v1/operator/users"): {"email": "staff@example.org", "name": "Staff",
                                             "password": "long enough password",
                                             "role": "finance"},
        ("POST", "/api/v1/operator/id-tokens"): {"uid": "0A0B0C0D"},
        ("POST", "/api/v1/me/payment-methods"): {"token": world.card_tokens["driver"]},
        ("POST", "/api/v1/me/wallet/top-ups"): {"amount": "10.00",
                                                "payment_method_id": world.methods["driver"]},
        ("PUT", "/api/v1/me/profile"): {"name": "Erika", "address": "Hauptstraße 5",
                                        "city": "München", "country": "DE"},
        ("POST", "/api/v1/operator/api-keys"): {"label": "ci"},
        ("POST", "/api/v1/operator/tariffs"): {"tariff": tariff, "station_id": "A-1"},
        ("POST", "/api/v1/operator/tariffs/{tariff_id}/groups"): {
            "version": "2026-01-01T00:00:00+00:00", "group_id": "fleet",
            "valid_from": "2026-01-01T00:00:00Z"},
        ("POST", "/api/v1/operator/tariffs/preview"): {"tariff": tariff, "sample": sample},
        ("POST", "/api/v1/operator/payments/{reference}/refunds"): {"amount": "0.50"},
        ("POST", "/api/v1/operator/dunning/{dunning_id}/write-off"): {"reason": "unreachable"},
        ("POST", "/api/v1/public/evses/{station_id}/{evse_id}/payments"): {
            "payment_method_token": world.card_tokens["driver2"]},
        ("POST", "/api/v1/sandbox/tokens"): {"number": "4242424242424242", "exp_month": 12,
                                             "exp_year": 2031, "cvc": "123"},
        ("POST", "/api/v1/sandbox/challenges/{challenge_ref}"): {"success": True},
        **PORTAL_FORMS,
        ("POST", "/portal/sessions/start"): {"station_id": "A-1", "evse_id": "1"},
        ("POST", "/portal/wallet/methods"): {"token": world.card_tokens["driver"]},
        ("POST", "/portal/wallet/top-up"): {"amount": "5.00", "method": world.methods["driver"]},
        ("POST", "/portal/profile"): {"name": "N", "address": "A 1", "city": "C",
                                      "country": "DE"},
        ("POST", "/portal/operator/payments/{reference}/refund"): {"amount": "0.10"},
        ("POST", "/portal/operator/tariffs"): {"tariff_id": "TA", "energy": "0.33",
                                               "vat": "19", "station_id": "A-1"},
        ("POST", "/portal/operator/tariffs/preview"): {"tariff_id": "TA", "energy": "0.33",
                                                       "vat": "19", "kwh": "10"},
    }  # fmt: skip


PORTAL_FORMS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/portal/login"): {"email": "driver@example.org", "password": PASSWORD},
    ("POST", "/portal/signup"): {"email": "x@example.org", "name": "X", "password": "short"},
    ("POST", "/portal/logout"): {},
}


@dataclass(frozen=True)
class Access:
    roles: frozenset[str] | None  # None: public
    portal: bool


def access_of(route: APIRoute) -> Access:
    found: list[Any] = []

    def walk(dependant: Any) -> None:
        for dep in dependant.dependencies:
            if isinstance(dep.call, (Allow, Public)):
                found.append(dep.call)
            walk(dep)

    walk(route.dependant)
    assert len(found) == 1, f"{route.path} must declare exactly one Allow/Public, has {found}"
    call = found[0]
    if isinstance(call, Public):
        return Access(None, route.path.startswith(("/portal", "/pay")))
    return Access(frozenset(r.value for r in call.roles), call.portal)


def _request(client: TestClient, ctx: ApiContext, world: World, route: APIRoute, method: str,
             who: str | None, params: dict[str, str], body: dict[str, Any] | None) -> int:
    path = re.sub(r"{(\w+)(:\w+)?}", lambda m: params[m.group(1)], route.path)
    headers: dict[str, str] = {}
    cookies: dict[str, str] = {}
    portal = path.startswith(("/portal", "/pay"))
    if who is not None and portal:
        if who != "apikey":
            cookies["evbill_session"] = new_cookie(ctx, world.users[who])
    elif who == "apikey":
        headers["Authorization"] = f"Bearer {world.key_secrets['a']}"
    elif who is not None and route.path in REVOKING:  # its own token: this call ends it
        headers["Authorization"] = f"Bearer {issue_token(ctx, world.users[who])}"
    elif who is not None:
        headers["Authorization"] = f"Bearer {world.tokens[who]}"
    client.cookies.clear()
    kwargs: dict[str, Any] = {"headers": headers, "follow_redirects": False}
    if portal and method == "POST":
        cookies[CSRF_COOKIE] = "matrix-nonce"
        token = csrf_token(ctx, "matrix-nonce")  # what a rendered form of this visitor carries
        if route.path.endswith("/preview"):  # the editor's script posts JSON with a header
            kwargs["json"], headers["X-CSRF-Token"] = body, token
        else:
            kwargs["data"] = {**(body or {}), "csrf": token}
    elif body is not None:
        kwargs["json"] = body
    for name, value in cookies.items():
        client.cookies.set(name, value)
    if "key" in route.path or route.path.startswith("/api/v1/public/payments"):
        kwargs["params"] = {"key": world.payment_keys["a"]}
    if route.path.startswith("/pay/p/"):
        kwargs["params"] = {"key": world.payment_keys["a"]}
    response = client.request(method, path, **kwargs)
    return response.status_code


_SHORT = {"driver": "driver", "operator_admin": "admin", "finance": "finance"}


def declared(access: Access) -> str:
    if access.roles is None:
        return "public"
    return " ".join(sorted(_SHORT[r] for r in access.roles))


def check_route(client: TestClient, ctx: ApiContext, world: World, route: APIRoute,
                method: str, body_map: dict[tuple[str, str], dict[str, Any]]) -> list[str]:
    access = access_of(route)
    pinned = POLICY.get((method, route.path))
    if pinned != declared(access):
        return [f"{method} {route.path}: declares {declared(access)!r}, policy says {pinned!r}"]
    params = path_values(world)
    body = body_map.get((method, route.path))
    if route.body_field is not None:
        assert body is not None, f"add a body example for {method} {route.path}"
    problems: list[str] = []
    name = f"{method} {route.path}"

    def expect(who: str | None, ok: bool, allowed: set[int] | None = None,
               refused: set[int] | None = None) -> None:
        status = _request(client, ctx, world, route, method, who, params, body)
        if status >= 500:
            problems.append(f"{name} as {who}: {status}")
        if allowed is not None and status not in allowed:
            problems.append(f"{name} as {who}: {status}, expected {sorted(allowed)}")
        if refused is not None and status in refused:
            problems.append(f"{name} as {who}: {status}, must not be {sorted(refused)}")

    if access.roles is None:
        expect(None, True, refused={401, 403})
        return problems
    expect(None, False, allowed={303} if access.portal else {401})
    has_ids = "{" in route.path
    callers = [c for c in CALLERS if not (access.portal and c == "apikey")]
    for who in callers:
        if ROLE_OF[who] not in access.roles:
            expect(who, False, allowed={403})
    for who in callers:
        if ROLE_OF[who] in access.roles and CALLERS[who] == "B":
            expect(who, False, allowed={404} if has_ids else None, refused={401, 403})
    for who in callers:
        if ROLE_OF[who] in access.roles and CALLERS[who] == "A":
            expect(who, True, refused={401, 403, 404})
    return problems


def test_every_route_enforces_roles_and_tenants(client: TestClient, ctx: ApiContext,
                                                world: World) -> None:
    routes = api_routes(client.app)  # type: ignore[arg-type]
    assert len(routes) > 30
    listed = {r.path for r in routes}
    assert set(client.get("/openapi.json").json()["paths"]) <= listed
    body_map = bodies(world)
    # Tenant A's failed settlement, for the routes that list and requeue them.
    SettlementFailures(ctx.db, ctx.clock).record(world.cdrs["driver_done"], "driver", "A-1",
                                                 RuntimeError("a failed settlement"))
    problems: list[str] = []
    # Deletions last, so they do not remove what other routes are checked against; after
    # them the routes that end sessions (a password change ends every token of its user).
    ordered = sorted(((m, r) for r in routes for m in sorted(r.methods)),
                     key=lambda mr: (mr[1].path in REVOKING, mr[0] == "DELETE", mr[1].path))
    for method, route in ordered:
        problems += check_route(client, ctx, world, route, method, body_map)
    present = {(m, r.path) for m, r in ordered}
    problems += [f"policy lists {m} {p}, which the app no longer has"
                 for m, p in POLICY if (m, p) not in present]
    assert problems == [], "\n".join(problems)


def test_openapi_lists_the_api_and_problem_details(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/me/sessions" in spec["paths"]
    assert not any(p.startswith("/portal") for p in spec["paths"])
    assert client.get("/docs").status_code == 200
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["title"] == "Not Found" and r.json()["status"] == 404
