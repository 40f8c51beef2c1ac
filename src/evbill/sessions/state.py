"""The charging session state machine (pure): states, allowed transitions, review flags.

    pending ─▶ charging ⇄ suspended
       │          │  ▲        │
       │          ▼  │        ▼
       │        parked ◀──────┘        (connected, not charging)
       └──────────┴─────▶ finished ─▶ rated
                              │  ▲
                              ▼  │
                              held                (implausible readings: an operator decides)

    pending / open ─▶ refused      (authorization refused, unknown connector: never billed)

Every non-final state can finish (a stop can come at any point, even before any energy
flowed); only `finished` becomes `rated`, when a CDR is stored. A rated session whose
timeline changes (late samples) goes back to `finished` to be rated again. A session whose
readings fail a plausibility check is `held`: no CDR, nothing charged, until an operator
releases or corrects it (`evbill sessions resolve`), which sends it back through `finished`.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from evbill.sessions.commands import ChargingState

__all__ = [
    "ALLOWED",
    "IllegalTransition",
    "SessionFlag",
    "SessionState",
    "can_transition",
    "state_for_charging",
    "transition",
]


class SessionState(StrEnum):
    PENDING = "pending"  # known, energy not flowing yet (or only a placeholder so far)
    CHARGING = "charging"
    SUSPENDED = "suspended"  # paused by the EV or the EVSE
    PARKED = "parked"  # connected, not charging, and not expected to resume
    FINISHED = "finished"  # stopped; awaiting (or failed) rating
    RATED = "rated"  # priced; the CDR is stored
    HELD = "held"  # implausible readings or a transaction gap: held for an operator's review
    REFUSED = "refused"  # the start was refused (token, connector): kept, never billed


class SessionFlag(StrEnum):
    """Why a session needs a human look. Flagged sessions are kept, never dropped."""

    STOP_WITHOUT_START = "stop_without_start"
    START_MISSING = "start_missing"  # samples for a transaction whose start never came
    AUTHORIZATION_REJECTED = "authorization_rejected"
    NO_TARIFF = "no_tariff"
    RATING_FAILED = "rating_failed"
    SIGNATURE_INVALID = "signature_invalid"
    SIGNED_DATA_INCOMPLETE = "signed_data_incomplete"
    NO_ENERGY_READINGS = "no_energy_readings"
    IMPLAUSIBLE_READING = "implausible_reading"  # power, register, clock or signed mismatch
    SEQ_GAP = "seq_gap"  # 2.x TransactionEvent seqNo numbers missing
    SILENT = "silent"  # open past the configured silence
    CLOSED_BY_REBOOT = "closed_by_reboot"  # 1.6: open when the station booted again
    UNKNOWN_CONNECTOR = "unknown_connector"


ALLOWED: Final[dict[SessionState, frozenset[SessionState]]] = {
    SessionState.PENDING: frozenset(
        {SessionState.CHARGING, SessionState.SUSPENDED, SessionState.PARKED,
         SessionState.FINISHED, SessionState.REFUSED}
    ),
    SessionState.CHARGING: frozenset(
        {SessionState.SUSPENDED, SessionState.PARKED, SessionState.FINISHED,
         SessionState.REFUSED}
    ),
    SessionState.SUSPENDED: frozenset(
        {SessionState.CHARGING, SessionState.PARKED, SessionState.FINISHED,
         SessionState.REFUSED}
    ),
    SessionState.PARKED: frozenset(
        {SessionState.CHARGING, SessionState.FINISHED, SessionState.REFUSED}
    ),
    SessionState.FINISHED: frozenset({SessionState.RATED, SessionState.HELD}),
    SessionState.RATED: frozenset({SessionState.FINISHED}),
    SessionState.HELD: frozenset({SessionState.FINISHED}),
    SessionState.REFUSED: frozenset(),
}  # fmt: skip


class IllegalTransition(ValueError):
    """A state change the session state machine does not allow."""

    def __init__(self, current: SessionState, target: SessionState) -> None:
        allowed = ", ".join(sorted(ALLOWED[current])) or "nothing"
        super().__init__(
            f"state: a {current} session cannot become {target} (allowed: {allowed})"
        )
        self.current = current
        self.target = target


def can_transition(current: SessionState, target: SessionState) -> bool:
    return target in ALLOWED[current]


def transition(current: SessionState, target: SessionState) -> SessionState:
    """`target` if the move is allowed (staying put is always allowed), else raise."""
    if current == target or can_transition(current, target):
        return target
    raise IllegalTransition(current, target)


def state_for_charging(charging_state: ChargingState) -> SessionState | None:
    """The session state a reported OCPP charging state means (None: it says nothing)."""
    return {
        ChargingState.CHARGING: SessionState.CHARGING,
        ChargingState.SUSPENDED_EV: SessionState.SUSPENDED,
        ChargingState.SUSPENDED_EVSE: SessionState.SUSPENDED,
        ChargingState.EV_CONNECTED: SessionState.PARKED,
        ChargingState.IDLE: None,
    }[charging_state]
