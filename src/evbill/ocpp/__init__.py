"""The OCPP gateway: WebSocket CSMS for OCPP 1.6J, 2.0.1 and 2.1 stations."""

from evbill.ocpp.rpc import RemoteCommandResult
from evbill.ocpp.server import Gateway, GatewayConfig, run_gateway

__all__ = ["Gateway", "GatewayConfig", "RemoteCommandResult", "run_gateway"]
