"""The user domain checks its own credentials without the HTTP layer: who a signed-in user is
(`UserService.identity`, none once disabled), whether an operator API key is live
(`UserService.api_key`: unknown, revoked, a wrong secret or a borrowed key id are refused) and
a password change (`UserService.change_password`: the current one is required, the new one
follows the sign-up rules), on the real database."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.fernet import Fernet

from evbill.accounts.crypto import FieldCipher, Passwords
from evbill.accounts.roles import Role
from evbill.accounts.users import (
    API_KEY_PREFIX,
    ApiKeyHolder,
    Identity,
    InvalidUser,
    UnknownUser,
    UserService,
    WrongPassword,
)
from evbill.store.database import Database

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PASSWORD = "a long enough password"


@pytest.fixture
def users(db: Database) -> UserService:
    return UserService(db, Passwords(time_cost=1, memory_kib=1024),
                       FieldCipher(Fernet.generate_key().decode("ascii")), lambda: NOW)  # fmt: skip


def test_an_issued_api_key_is_recognised_until_it_is_revoked(users: UserService) -> None:
    issued = users.issue_key("op-a", Role.FINANCE, "books")
    assert issued.secret.startswith(f"{API_KEY_PREFIX}{issued.key_id}.")
    assert users.api_key(issued.secret) == ApiKeyHolder(issued.key_id, Role.FINANCE, "op-a")

    users.revoke_key("op-a", issued.key_id)
    assert users.api_key(issued.secret) is None


def test_a_wrong_or_borrowed_api_key_secret_is_refused(users: UserService) -> None:
    mine = users.issue_key("op-a", Role.OPERATOR_ADMIN, "mine")
    theirs = users.issue_key("op-b", Role.OPERATOR_ADMIN, "theirs")
    my_secret = mine.secret.partition(".")[2]
    assert users.api_key(f"{API_KEY_PREFIX}{theirs.key_id}.{my_secret}") is None
    assert users.api_key(mine.secret[:-1] + ("A" if mine.secret[-1] != "A" else "B")) is None
    for shape in ("", API_KEY_PREFIX, f"{API_KEY_PREFIX}{mine.key_id}",
                  f"{API_KEY_PREFIX}{mine.key_id}.", f"{API_KEY_PREFIX}.{my_secret}",
                  f"{API_KEY_PREFIX}nokey.{my_secret}", mine.secret.removeprefix(API_KEY_PREFIX)):
        assert users.api_key(shape) is None, shape  # fmt: skip


def test_a_password_changes_only_with_the_current_one(users: UserService) -> None:
    user = users.create("ann@example.org", PASSWORD, "Ann", Role.DRIVER)

    with pytest.raises(WrongPassword, match="current_password"):
        users.change_password(user.id, "not the password at all", "another long password")
    with pytest.raises(InvalidUser):
        users.change_password(user.id, PASSWORD, "short")
    assert users.authenticate("ann@example.org", PASSWORD) is not None  # nothing changed

    users.change_password(user.id, PASSWORD, "another long password")
    assert users.authenticate("ann@example.org", PASSWORD) is None
    assert users.authenticate("ann@example.org", "another long password") is not None


def test_an_unknown_user_has_no_password_to_change(users: UserService) -> None:
    with pytest.raises(WrongPassword):
        users.change_password("usr_missing", PASSWORD, "another long password")
    with pytest.raises(UnknownUser):
        users.profile("usr_missing")


def test_an_identity_names_role_network_and_card_account_until_disabled(
        users: UserService) -> None:  # fmt: skip
    driver = users.create("dan@example.org", PASSWORD, "Dan", Role.DRIVER)
    admin = users.create("ada@example.org", PASSWORD, "Ada", Role.OPERATOR_ADMIN, "op-a")
    assert users.identity(driver.id) == Identity(driver.id, Role.DRIVER, None,
                                                 f"driver.{driver.id}")  # fmt: skip
    assert users.identity(admin.id) == Identity(admin.id, Role.OPERATOR_ADMIN, "op-a",
                                                f"driver.{admin.id}")  # fmt: skip

    users.set_disabled(admin.id, True)
    assert users.identity(admin.id) is None
    assert users.identity("usr_missing") is None
