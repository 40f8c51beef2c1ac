"""Portal logins in the demo database: a driver and an operator admin, with printed passwords.

`create_login` is the one place that reaches the user service, so moving that service (from
`evbill.api.users` to `evbill.accounts`) changes one import here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from evbill.config import Settings
from evbill.payments.providers.sandbox import SandboxProvider
from evbill.store.database import Database

__all__ = ["DemoLogin", "create_login"]


@dataclass(frozen=True, slots=True)
class DemoLogin:
    email: str
    password: str
    role: str
    token_account: str  # a driver's cards and payments live under this account


def create_login(db: Database, settings: Settings, provider: SandboxProvider,
                 clock: Callable[[], datetime], *, email: str, password: str, name: str,
                 role: str, operator: str | None = None) -> DemoLogin:
    """A user who can sign in to the portal with `email` and `password` (`role`: driver,
    operator_admin or finance; staff need their `operator` network)."""
    from evbill.accounts.roles import Role
    from evbill.api.context import ApiContext
    from evbill.api.settings import ApiSettings, resolve_secrets
    from evbill.api.users import users_of

    # The portal later started on this data folder reads the same keys (api-secrets.json).
    api = resolve_secrets(ApiSettings(), Path(settings.data_dir))
    ctx = ApiContext(db, settings, api, provider, clock)
    user = users_of(ctx).create(email, password, name, Role(role), operator)
    return DemoLogin(email, password, role, user.token_account)
