"""`evbill sessions show|rerate|resolve`: an operator sees why a session is flagged or held,
re-rates it, releases it or corrects its end reading; each change is kept in the audit trail
and a rated session is then settled through the same payment hooks as any other."""

from __future__ import annotations

import getpass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Annotated

import typer

from evbill.cli.app import console, fail
from evbill.cli.stations import sessions_app

if TYPE_CHECKING:
    from evbill.sessions.review import ReviewOutcome, ReviewReport
    from evbill.store.database import Database

ActorOption = Annotated[str | None, typer.Option(
    "--actor", help="who decides (kept in the audit trail; default: the login name)")]
ReasonOption = Annotated[str, typer.Option("--reason", help="why (kept in the audit trail)")]


def _open() -> Database:
    from evbill.config import get_settings
    from evbill.store.database import Database
    from evbill.store.migrate import SchemaError

    try:
        return Database.open(get_settings().resolved_database_url)
    except SchemaError as exc:
        raise fail(str(exc)) from None


def _actor(actor: str | None) -> str:
    if actor:
        return actor
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


@sessions_app.command("show")
def sessions_show(
    session_id: Annotated[int, typer.Argument(metavar="ID", min=1, help="the session's id")],
) -> None:
    """Show one session: state, why it is flagged or held, its readings, its reviews."""
    from evbill.config import get_settings
    from evbill.sessions.review import ReviewError, SessionReview

    db = _open()
    try:
        report = SessionReview(db, get_settings()).show(session_id)
    except ReviewError as exc:
        raise fail(str(exc)) from None
    finally:
        db.dispose()
    _print_report(report)


def _print_report(report: ReviewReport) -> None:
    v = report.detail.session
    lines = [
        f"session {v.session_id}  station {v.station_id}  EVSE {v.evse_id}  "
        f"tx {v.transaction_id}",
        f"state      {v.state}",
        f"started    {v.started_at.isoformat()}",
        f"stopped    {v.stopped_at.isoformat() if v.stopped_at else '(open)'}",
        f"token      {v.id_token or '-'}",
        f"energy     {v.energy_wh} Wh",
        f"readings   meterStart {_wh(report.meter_start_wh)}, meterStop "
        f"{_wh(report.meter_stop_wh)}; {report.samples_with_energy} register samples "
        f"from {_wh(report.first_wh)} to {_wh(report.last_wh)}",
    ]
    if v.flags:
        lines.append(f"flags      {', '.join(v.flags)}")
    if report.hold_reason:
        lines += ["held because:", *(f"  - {r}" for r in report.hold_reason.splitlines())]
    if report.detail.review_note:
        lines += ["notes:", *(f"  - {n}" for n in report.detail.review_note.splitlines())]
    if report.released_by:
        lines.append(f"released by {report.released_by}")
    cdr = report.detail.cdr
    if cdr is not None:
        lines.append(f"CDR        {cdr.cdr_id}: {cdr.total_cost_incl_vat} {cdr.currency} incl. "
                     f"VAT, {cdr.total_energy_wh} Wh ({cdr.energy_source})")
    for r in report.reviews:
        lines.append(f"review     {r.at.isoformat(timespec='seconds')} {r.action} by {r.actor}: "
                     f"{r.state_before} → {r.state_after} ({r.reason})")
    typer.echo("\n".join(lines))


def _wh(value: Decimal | None) -> str:
    return "-" if value is None else f"{value} Wh"


@sessions_app.command("rerate")
def sessions_rerate(
    session_id: Annotated[int | None, typer.Argument(metavar="ID", min=1)] = None,
    flag: Annotated[str | None, typer.Option(
        "--flag", help="every reviewable session with this flag, e.g. rating_failed")] = None,
    tariff: Annotated[str | None, typer.Option(
        help="rate with this tariff: an OCPI JSON file or a stored tariff id")] = None,
    reason: ReasonOption = "re-rated by an operator",
    actor: ActorOption = None,
) -> None:
    """Rate a session (or every session with a flag) again; the plausibility checks apply."""
    from evbill.config import get_settings
    from evbill.sessions.review import ReviewError, SessionReview

    if (session_id is None) == (flag is None):
        raise fail("give a session ID or --flag FLAG (one of them)")
    db = _open()
    outcomes = []
    try:
        review = SessionReview(db, get_settings())
        ids = [session_id] if session_id is not None else review.flagged(flag or "")
        for sid in ids:
            try:
                outcomes.append(review.rerate(sid, actor=_actor(actor), reason=reason,
                                              tariff=tariff))
            except ReviewError as exc:
                if session_id is not None:
                    raise fail(str(exc)) from None
                console.print(f"session {sid}: {exc}", highlight=False, markup=False)
        _settle(db, outcomes)
    finally:
        db.dispose()
    for o in outcomes:
        _print_outcome(o)
    typer.echo(f"{len(outcomes)} session(s) re-rated, "
               f"{sum(o.state_after == 'rated' for o in outcomes)} rated")


@sessions_app.command("resolve")
def sessions_resolve(
    session_id: Annotated[int, typer.Argument(metavar="ID", min=1)],
    meter_stop: Annotated[str | None, typer.Option(
        "--meter-stop", metavar="WH", help="the corrected end register reading, in Wh")] = None,
    reason: ReasonOption = "",
    actor: ActorOption = None,
) -> None:
    """Release a held session, or correct its end reading, and send it on to payment."""
    from evbill.config import get_settings
    from evbill.sessions.review import ReviewError, SessionReview

    stop = None
    if meter_stop is not None:
        try:
            stop = Decimal(meter_stop)
        except InvalidOperation:
            raise fail(f"--meter-stop: {meter_stop!r} is not a number of Wh") from None
    if not reason.strip():
        raise fail("--reason: say why the session is released (kept in the audit trail)")
    db = _open()
    try:
        try:
            outcome = SessionReview(db, get_settings()).resolve(
                session_id, actor=_actor(actor), reason=reason, meter_stop_wh=stop)
        except ReviewError as exc:
            raise fail(str(exc)) from None
        _settle(db, [outcome])
    finally:
        db.dispose()
    _print_outcome(outcome)


def _print_outcome(o: ReviewOutcome) -> None:
    line = f"session {o.session_id}: {o.state_before} → {o.state_after}"
    if o.hold_reason:
        line += f" (held: {o.hold_reason.splitlines()[0]})"
    elif o.state_after != "rated" and o.flags:
        line += f" (flags: {', '.join(o.flags)})"
    typer.echo(line)


def _settle(db: Database, outcomes: list[ReviewOutcome]) -> None:
    """Hand each newly rated session to the payment hooks, as the gateway does after a stop;
    if payments cannot be reached from here, the server's sweep settles it."""
    rated = [o for o in outcomes if o.state_after == "rated"]
    if not rated:
        return
    try:
        from evbill.cli.serve import wire_billing

        billing = wire_billing(db, None)
    except Exception as exc:  # payments not configured here: the running server settles
        console.print(f"payment settles on the server's next sweep ({exc})", highlight=False,
                      markup=False)
        return
    for o in rated:
        try:
            billing.after_event(o.station_id, o.transaction_id)
        except Exception as exc:  # logged; the sweep retries
            console.print(f"session {o.session_id}: payment not settled yet ({exc})",
                          highlight=False, markup=False)
