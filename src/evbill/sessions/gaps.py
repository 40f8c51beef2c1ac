"""Transaction gaps: missing 2.x seqNo numbers and sessions silent for too long (in one UoW).

OCPP 2.x numbers every TransactionEvent of a transaction from 0 (`seqNo`) and delivers them
in order, so a number that never arrives is a lost message, perhaps the Ended itself (a
gateway killed with the message in flight). The session keeps the highest number seen and the
numbers missing below it; while any is missing it is flagged `seq_gap`, and finishing it
holds it for review instead of billing what a later message says. A message that ends a
silence longer than `Settings.session_silence` flags the session `silent` the same way.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from evbill.sessions.recording import add_flag, clear_flags
from evbill.sessions.state import SessionFlag
from evbill.store.tables import SessionRow

__all__ = ["HOLDING_FLAGS", "fits_in_order", "note_activity", "track_seq"]

_MAX_MISSING: Final = 1000  # beyond this many lost messages, the count alone tells the story
#: Flags that hold a session at finishing, whatever its readings say.
HOLDING_FLAGS: Final = (SessionFlag.SEQ_GAP, SessionFlag.SILENT)


def track_seq(row: SessionRow, seq_no: int | None) -> None:
    """Record one TransactionEvent's seqNo; flag or clear the gap it opens or fills.

    Numbers are counted from the lowest seen (the Started event's, once it is in): a lost
    Started is the `start_missing` flag's business, not a gap.
    """
    if seq_no is None:
        return
    track = dict(row.seq_track or {})
    low, high = track.get("low"), track.get("high")
    missing = [int(n) for n in track.get("missing", [])]
    if low is None or high is None:
        low = high = seq_no
    elif seq_no > high:
        missing += range(high + 1, min(seq_no, high + 1 + _MAX_MISSING))
        high = seq_no
    elif seq_no < low:
        missing += range(max(seq_no + 1, low - _MAX_MISSING), low)
        low = seq_no
    elif seq_no in missing:
        missing.remove(seq_no)
    missing = sorted(missing)[:_MAX_MISSING]
    row.seq_track = {"low": low, "high": high, "missing": missing}
    if missing:
        shown = ", ".join(str(n) for n in missing[:10]) + (" …" if len(missing) > 10 else "")
        clear_flags(row, (SessionFlag.SEQ_GAP,))
        add_flag(row, SessionFlag.SEQ_GAP, f"TransactionEvent seqNo {shown} never arrived "
                                           f"(seen {low} to {high})")
    elif SessionFlag.SEQ_GAP.value in (row.flags or []):
        clear_flags(row, (SessionFlag.SEQ_GAP,))


def fits_in_order(track: dict[str, object] | None, seq_no: int | None) -> bool:
    """Whether `seq_no` is simply the next number with nothing missing (the fast lane's case)."""
    if seq_no is None:
        return True
    if not track:
        return False
    return not track.get("missing") and track.get("high") == seq_no - 1


def note_activity(row: SessionRow, now: datetime, silence: timedelta) -> None:
    """A message for an open session: flag it if it ends a silence longer than allowed."""
    if now - row.updated_at > silence:
        add_flag(row, SessionFlag.SILENT,
                 f"no message from {row.updated_at.isoformat()} to {now.isoformat()} "
                 f"(more than {int(silence.total_seconds())} s)")
