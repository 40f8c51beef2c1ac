"""Who a user (or API key) is to evbill: a driver, or operator staff (admin, finance).

A driver sees only its own data; operator staff only their network; finance is read-only on
money. The HTTP layer (`evbill.api.auth`) enforces these per route.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ALL_ROLES", "STAFF", "Role"]


class Role(StrEnum):
    DRIVER = "driver"
    OPERATOR_ADMIN = "operator_admin"
    FINANCE = "finance"


STAFF = (Role.OPERATOR_ADMIN, Role.FINANCE)
ALL_ROLES = (Role.DRIVER, Role.OPERATOR_ADMIN, Role.FINANCE)
