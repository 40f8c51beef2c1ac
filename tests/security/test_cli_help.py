"""Issue 11 F14: the CLI says what the code does. Station passwords were documented as scrypt
while stored as PBKDF2; they are now a keyed HMAC, and the help must not claim otherwise."""

from __future__ import annotations

from typer.testing import CliRunner

from evbill.accounts.passwords import hash_password
from evbill.cli import app


def test_stations_add_help_names_the_hash_the_code_stores() -> None:
    shown = CliRunner().invoke(app, ["stations", "add", "--help"], terminal_width=200)
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert "scrypt" not in text.lower() and "PBKDF2" not in text
    assert "keyed HMAC-SHA256" in text
    assert hash_password("x" * 16, key=b"k" * 32).startswith("hmac_sha256$")
