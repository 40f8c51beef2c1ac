"""OCPP 2.1 adapter: the 2.0.1 translations with 2.1's message classes and JSON schemas.

What 2.1 changes for the messages we handle is accepted by its schemas: idToken types are
free strings (unknown ones are answered `Unknown`), longer signed meter data, more trigger
reasons, and the extra RPC message types CALLRESULTERROR (5) and SEND (6), never answered.
"""

from __future__ import annotations

from ocpp.v21 import call, call_result
from ocpp.v21.enums import Action

from evbill.ocpp.v201 import V201Station

__all__ = ["V21Station"]


class V21Station(V201Station):
    """A station speaking OCPP 2.1."""

    version = "2.1"
    protocol = "ocpp2.1"
    known_actions = frozenset(a.value for a in Action)
    _call = call
    _call_result = call_result
    _ocpp_version = "2.1"
