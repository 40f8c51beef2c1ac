"""Settings for every evbill process, read from `EVBILL_*` environment variables (and `.env`).

One place for configuration: the store, the session service, the OCPP gateway and the CLI
read their knobs from `Settings`. Secrets (TLS key paths, basic-auth passwords) are never
logged; `Settings.redacted()` gives a loggable view.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_SQLITE_NAME", "Settings", "get_settings", "sqlite_url_for"]

#: File name of the embedded SQLite database inside the data directory.
DEFAULT_SQLITE_NAME = "evbill.sqlite3"


def sqlite_url_for(data_dir: Path) -> str:
    """The SQLAlchemy URL of the embedded SQLite database in `data_dir`."""
    return f"sqlite+pysqlite:///{(data_dir / DEFAULT_SQLITE_NAME).resolve()}"


class Settings(BaseSettings):
    """All runtime settings; every field can be set as `EVBILL_<FIELD NAME>`."""

    model_config = SettingsConfigDict(
        env_prefix="EVBILL_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    # --- storage ----------------------------------------------------------------------
    data_dir: Path = Field(default=Path("./data"), description="embedded database, files")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default: SQLite file in data_dir. Production: "
        "postgresql+psycopg://user@host/db",
    )
    database_echo: bool = False

    # --- stations and sessions --------------------------------------------------------
    auto_register_stations: bool = Field(
        default=False, description="accept BootNotification from unknown stations and add them"
    )
    heartbeat_interval: int = Field(default=300, ge=10, le=86_400, description="seconds")
    default_timezone: str = Field(
        default="Europe/Berlin", description="IANA zone for stations registered without one"
    )
    dedup_retention_days: int = Field(
        default=30, ge=1, le=3650,
        description="days a command's deduplication key is kept (a station replaying an "
        "older message is no longer recognised as a duplicate by its key)",
    )
    accept_no_authorization: bool = Field(
        default=True,
        description="record sessions a station started with a NoAuthorization token",
    )

    # --- meter plausibility and transaction gaps (see docs/sessions.md) -----------------
    evse_max_power_kw: Decimal = Field(
        default=Decimal(400), gt=0,
        description="an EVSE's maximum power when none is registered (`evbill stations add "
        "--max-power-kw`, `stations import`): energy above the EVSE's power over the "
        "session's time holds the session for review",
    )
    power_tolerance_percent: Decimal = Field(
        default=Decimal(10), ge=0, le=1000,
        description="allowance over the maximum power before a session is held",
    )
    clock_skew: int = Field(
        default=300, ge=0, le=86_400,
        description="seconds a station's clock may run ahead before its timestamps are "
        "taken as being in the future (the session is held for review)",
    )
    session_silence: int = Field(
        default=24 * 3600, ge=60, le=30 * 86_400,
        description="seconds an open session may stay without any message before it is "
        "flagged; a stop arriving after such a silence holds it for review",
    )

    # --- OCPP gateway (CSMS) ----------------------------------------------------------
    ocpp_host: str = "127.0.0.1"
    ocpp_port: int = Field(default=9000, ge=0, le=65_535)
    ocpp_path_prefix: str = "/ocpp"
    ocpp_protocols: tuple[str, ...] = ("ocpp2.1", "ocpp2.0.1", "ocpp1.6")
    ocpp_security_profile: int = Field(default=1, ge=0, le=3)
    ocpp_call_timeout: float = Field(default=30.0, gt=0, description="seconds per CALL")
    ocpp_command_poll_interval: float = Field(
        default=1.0, gt=0, description="seconds between station_commands outbox polls"
    )
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    tls_ca_file: Path | None = Field(default=None, description="CA for client certificates")

    # --- HTTP API / portal ------------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=0, le=65_535)

    # --- logging ----------------------------------------------------------------------
    log_level: str = "INFO"

    @field_validator("default_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"default_timezone: {value!r} is not an IANA time zone") from None
        return value

    @property
    def resolved_database_url(self) -> str:
        """`database_url`, or the SQLite file in `data_dir` when none is configured."""
        return self.database_url or sqlite_url_for(self.data_dir)

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None and self.tls_key_file is not None

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict that is safe to log (no passwords in URLs)."""
        values = self.model_dump()
        url = self.resolved_database_url
        if "@" in url and ":" in url.split("@", 1)[0].split("//", 1)[-1]:
            scheme, rest = url.split("//", 1)
            user = rest.split("@", 1)[0].split(":", 1)[0]
            url = f"{scheme}//{user}:***@{rest.split('@', 1)[1]}"
        values["database_url"] = url
        return values


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (read once; tests build `Settings(...)` directly)."""
    return Settings()
