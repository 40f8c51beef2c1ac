"""`evbill rate`: price a CDR/Session or a meter timeline with a tariff; the CDR goes to stdout."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from evbill.cli.app import app, fail

if TYPE_CHECKING:
    from evbill.rating import PricedCdr
    from evbill.tariffs import Tariff
    from evbill.tariffs.lenient import LenientTariff


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise fail(f"{path}: cannot read ({err.__class__.__name__}: {err})") from None


def _tariff(path: Path) -> LenientTariff:
    from evbill.tariffs import TariffError, loads
    from evbill.tariffs.lenient import parse_tariff_for_pricing

    try:
        data = loads(_read(path))
    except ValueError as err:
        raise fail(f"{path}: invalid tariff: (root): not valid JSON ({err})") from None
    try:
        return parse_tariff_for_pricing(data)
    except TariffError as err:
        raise fail(f"{path}: invalid tariff: {err}") from None


def price_session(tariff: Tariff, tz: str, session: Mapping[str, Any]) -> PricedCdr:
    """A CDR/Session (has charging_periods) or a timeline (has samples), priced."""
    from evbill.rating import RatingError, rate_cdr, rate_timeline
    from evbill.rating.timeline_json import timeline_from_json

    if "charging_periods" in session:
        return rate_cdr(tariff, tz, session)
    if "samples" in session:
        timeline = timeline_from_json(session)
        return rate_timeline(tariff, tz, timeline.samples, cdr_id=timeline.cdr_id,
                             reservation=timeline.reservation)
    raise RatingError("neither charging_periods (a CDR/Session) nor samples (a meter timeline)")


@app.command()
def rate(
    session_file: Annotated[Path, typer.Argument(metavar="SESSION.json",
                                                 help="CDR/Session or meter timeline JSON")],
    tariff_file: Annotated[Path, typer.Option("--tariff", metavar="TARIFF.json",
                                              help="OCPI 2.2.1 Tariff JSON")],
    tz: Annotated[str, typer.Option(help="IANA time zone of the location")] = "UTC",
) -> None:
    """Price a session with an OCPI 2.2.1 tariff and print the priced CDR as JSON.

    A tariff without country_code, party_id or last_updated (they never change a price) is
    priced with a warning on stderr; `evbill tariffs add` still requires them."""
    from evbill.rating import RatingError
    from evbill.tariffs import dumps, loads

    lenient = _tariff(tariff_file)
    tariff = lenient.tariff
    try:
        session = loads(_read(session_file))
    except ValueError as err:
        raise fail(f"{session_file}: not valid JSON ({err})") from None
    if not isinstance(session, Mapping):
        raise fail(f"{session_file}: expected a JSON object")
    try:
        priced = price_session(tariff, tz, session)
    except RatingError as err:
        raise fail(f"{session_file}: cannot price: {err}") from None
    if lenient.warning is not None:
        typer.echo(f"warning: {tariff_file}: {lenient.warning}", err=True)
    cdr = priced.to_ocpi(breakdown=True)
    if lenient.missing and "tariffs" in cdr:  # show the tariff as given, without stand-ins
        cdr["tariffs"] = [lenient.ocpi()]
    typer.echo(dumps(cdr))
