"""What the payment flows of the running application (ad hoc pages, payment modes, wallet
top-ups, the settlement pass) need from it: the database, the payment and invoicing services
and the clock. The API's context satisfies it; so can a test or a CLI command."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from evbill.invoicing.service import InvoicingService
    from evbill.payments.service import PaymentService
    from evbill.store.database import Database

__all__ = ["PaymentsApp"]


class PaymentsApp(Protocol):
    @property
    def db(self) -> Database: ...
    @property
    def payments(self) -> PaymentService: ...
    @property
    def invoicing(self) -> InvoicingService: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...
