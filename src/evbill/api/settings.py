"""Settings of the HTTP API and portal (`EVBILL_API_*`): signing and field-encryption keys, limits.

Secrets come from the environment. When none is configured, `resolve_secrets` creates them
once per installation in the data directory (`api-secrets.json`, mode 0600) so a fresh
`evbill serve` works; production sets `EVBILL_API_SECRET_KEY`, `EVBILL_API_FIELD_KEY` and
`EVBILL_API_SANDBOX_WEBHOOK_SECRET`. No secret has a public default: `refuse_public_secrets`
stops `evbill serve` on a value published anywhere (the old `whsec_sandbox` default).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["KNOWN_PUBLIC_SECRETS", "ApiSettings", "PublicSecret", "refuse_public_secrets",
           "resolve_secrets"]

log = logging.getLogger(__name__)

_SECRETS_FILE = "api-secrets.json"
#: Values that appeared in code, docs or examples: anyone can sign with them.
KNOWN_PUBLIC_SECRETS = frozenset({"whsec_sandbox", "whsec_test", "sandbox", "secret",
                                  "changeme", "change-me", "test", ""})
_MIN_SECRET = 16


class PublicSecret(ValueError):
    """A configured secret that is publicly known (or too short to be secret)."""


class ApiSettings(BaseSettings):
    """Every field can be set as `EVBILL_API_<FIELD NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="EVBILL_API_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    secret_key: SecretStr | None = Field(
        default=None, description="signs bearer tokens, portal cookies and CSRF tokens"
    )
    field_key: SecretStr | None = Field(
        default=None, description="Fernet key encrypting personal fields at rest"
    )
    token_ttl_s: int = Field(default=12 * 3600, ge=60, description="bearer token lifetime")
    cookie_ttl_s: int = Field(default=7 * 24 * 3600, ge=60, description="portal session")
    cookie_secure: bool | None = Field(
        default=None, description="set Secure on the portal cookies; default: when the public "
        "URL is https or this is not the demo (EVBILL_API_DEMO)")
    demo: bool = Field(default=False, description="a local demo over plain http (cookies "
                       "without Secure unless the public URL is https)")
    max_body_bytes: int = Field(default=64 * 1024, ge=1024, le=64 * 2**20,
                                description="largest request body accepted (413 beyond)")
    login_attempts: int = Field(default=5, ge=1, description="failed sign-ins per window")
    login_window_s: int = Field(default=300, ge=1, description="sign-in rate-limit window")
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_kib: int = Field(default=65_536, ge=8)
    sandbox_webhook_secret: SecretStr | None = Field(
        default=None, description="signs the sandbox's webhooks; default: generated once per "
        "installation (api-secrets.json)")
    public_base_url: str = Field(
        default="http://127.0.0.1:8000", description="base of links printed in EVSE QR codes"
    )
    user_cache_s: float = Field(
        default=5.0, ge=0, description="seconds a signed-in user's role is cached per process"
    )
    token_cache_s: float = Field(
        default=300.0, ge=0, description="seconds a verified bearer token is remembered per "
        "process (its expiry is still checked on every request)"
    )
    threads: int = Field(
        default=12, ge=1, description="worker threads for request handlers (keep within the "
        "database pool, 15 on SQLite)"
    )
    settle_interval_s: float = Field(
        default=2.0, ge=0, description="seconds between settling passes (0: none in this process)"
    )

    @property
    def secure_cookies(self) -> bool:
        """Whether portal cookies carry `Secure`: as configured, else whenever the public URL
        is https and, by default, everywhere but the demo."""
        if self.cookie_secure is not None:
            return self.cookie_secure
        return self.public_base_url.lower().startswith("https://") or not self.demo


def _generated() -> dict[str, str]:
    return {"secret_key": secrets.token_urlsafe(48), "field_key": Fernet.generate_key().decode(),
            "sandbox_webhook_secret": "whsec_" + secrets.token_urlsafe(32)}


def _write_private(path: Path, data: dict[str, str], *, replace: bool) -> None:
    """Write `data` as JSON to a file only its owner can read (0600 from the first byte)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_suffix(".tmp") if replace else path
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL)
    fd = os.open(target, flags, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle)
    if replace:
        os.replace(target, path)


def _load_or_create(path: Path) -> dict[str, str]:
    """The installation's secrets, created on first use; a key added by a newer evbill (the
    sandbox webhook secret) is generated into an existing file without touching the others."""
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
        missing = {k: v for k, v in _generated().items() if k not in data}
        if missing:
            data.update(missing)
            _write_private(path, data, replace=True)
            log.warning("api.secrets_added path=%s keys=%s", path, ",".join(sorted(missing)))
        return data
    data = _generated()
    _write_private(path, data, replace=False)
    log.warning("api.secrets_created path=%s", path)
    return data


def resolve_secrets(api: ApiSettings, data_dir: Path) -> ApiSettings:
    """`api` with every key set: from the environment, else from `data_dir/api-secrets.json`."""
    if None not in (api.secret_key, api.field_key, api.sandbox_webhook_secret):
        return api
    stored = _load_or_create(data_dir / _SECRETS_FILE)
    return api.model_copy(update={
        "secret_key": api.secret_key or SecretStr(stored["secret_key"]),
        "field_key": api.field_key or SecretStr(stored["field_key"]),
        "sandbox_webhook_secret": api.sandbox_webhook_secret
        or SecretStr(stored["sandbox_webhook_secret"]),
    })  # fmt: skip


def refuse_public_secrets(named: dict[str, SecretStr | None]) -> None:
    """Raise `PublicSecret` when a configured secret is a published value or too short."""
    for name, value in named.items():
        if value is None:
            continue
        text = value.get_secret_value()
        if text.strip().lower() in KNOWN_PUBLIC_SECRETS or len(text) < _MIN_SECRET:
            raise PublicSecret(f"{name}: a publicly known or too short value (under "
                               f"{_MIN_SECRET} characters); set a random one or unset it so "
                               "evbill generates one for this installation")
