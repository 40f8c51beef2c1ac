"""Mounts the portal's page routers on the app."""

from __future__ import annotations

from fastapi import FastAPI

from evbill.portal import pages_auth, pages_driver, pages_operator, pages_pay, pages_profile

__all__ = ["install_portal"]


def install_portal(app: FastAPI) -> None:
    from evbill.api.app import mount

    for module in (pages_auth, pages_driver, pages_profile, pages_operator, pages_pay):
        mount(app, module.router)
