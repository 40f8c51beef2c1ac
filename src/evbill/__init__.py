"""evbill: billing and payments for EV charging."""

__version__ = "0.1.0"
