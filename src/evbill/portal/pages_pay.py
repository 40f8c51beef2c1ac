"""The public EVSE page (from its QR code): the tariff in plain words, pay by card or wallet
through the provider, then a live status page for the session and its final price."""

from __future__ import annotations

import io
from typing import Annotated

import segno
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from evbill.api.auth import Public
from evbill.api.commands import adhoc_service
from evbill.api.context import context_of
from evbill.api.plainwords import describe_tariff
from evbill.portal.page import page

router = APIRouter(prefix="/pay", include_in_schema=False, dependencies=[Depends(Public())])
Key = Annotated[str, Query(min_length=8, max_length=64)]


@router.get("/p/{payment_id}")
def status_page(request: Request, payment_id: str, key: Key) -> Response:
    row = adhoc_service(context_of(request)).find(payment_id, key)
    return page(request, "pay_status.html", None, payment=row, key=key,
                sandbox=hasattr(context_of(request).provider, "complete_challenge"))


@router.get("/{station_id}/{evse_id}")
def evse_page(request: Request, station_id: str, evse_id: int) -> Response:
    offer = adhoc_service(context_of(request)).offer(station_id, evse_id)
    provider = context_of(request).provider
    return page(request, "pay_evse.html", None, offer=offer, prices=describe_tariff(offer.tariff),
                sandbox=hasattr(provider, "tokenize"))  # fmt: skip


@router.get("/{station_id}/{evse_id}/qr.svg")
def evse_qr(request: Request, station_id: str, evse_id: int) -> Response:
    """The QR code to print on the EVSE: it opens this EVSE's payment page."""
    adhoc_service(context_of(request)).offer(station_id, evse_id)  # 404 for unknown EVSEs
    base = context_of(request).api.public_base_url.rstrip("/")
    buffer = io.BytesIO()
    segno.make(f"{base}/pay/{station_id}/{evse_id}", error="m").save(
        buffer, kind="svg", scale=6, border=2, title=f"Pay at {station_id} EVSE {evse_id}")
    return Response(buffer.getvalue(), media_type="image/svg+xml")
