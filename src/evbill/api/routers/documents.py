"""A driver's receipts and invoices: list, and download as PDF or EN 16931 XML."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel

from evbill.accounts.roles import Role
from evbill.api.auth import Allow, Principal
from evbill.api.context import context_of
from evbill.api.documents import account_documents, document_file
from evbill.api.params import Name
from evbill.api.schemas import MoneyOut, money_out

router = APIRouter(prefix="/api/v1/me", tags=["driver"])
Driver = Annotated[Principal, Depends(Allow(Role.DRIVER))]


class DocumentOut(BaseModel):
    number: str
    type: str
    issued_at: datetime
    total: MoneyOut
    paid: bool
    links: dict[str, str]


@router.get("/documents")
def my_documents(request: Request, who: Driver) -> list[DocumentOut]:
    """Your receipts (sessions paid by card or wallet), monthly invoices and credit notes."""
    assert who.token_account is not None
    out = []
    for d in account_documents(context_of(request), who.token_account):
        total = money_out(d.total)
        assert total is not None
        base = f"/api/v1/me/documents/{d.number}"
        out.append(DocumentOut(number=d.number, type=d.doc_type, issued_at=d.issued_at,
                               total=total, paid=d.paid,
                               links={"pdf": f"{base}/pdf", "xml": f"{base}/cii",
                                      "ubl": f"{base}/ubl"}))  # fmt: skip
    return out


@router.get("/documents/{number}/{kind}")
def my_document_file(request: Request, who: Driver, number: Name,
                     kind: Literal["pdf", "cii", "ubl"]) -> Response:  # fmt: skip
    """The document as PDF/A-3 (with the Factur-X XML inside), CII or UBL XML."""
    assert who.token_account is not None
    data, media = document_file(context_of(request), who.token_account, number, kind)
    ext = "pdf" if kind == "pdf" else "xml"
    return Response(data, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{number}.{ext}"'})
