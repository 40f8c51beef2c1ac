"""The money summary `evbill demo` prints after the live part: the four stories, payments,
documents against payments, the ledger's checks, where the files are and how to browse them."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from rich import box
from rich.console import Console
from rich.table import Table

from evbill.config import sqlite_url_for
from evbill.sim.money_books import Books
from evbill.sim.showcase import ShowcaseResult

__all__ = ["money_problems", "money_report"]

_KINDS = {"RECEIPT": "receipt", "INVOICE": "invoice", "CREDIT_NOTE": "credit"}


def _eur(amount: Decimal, currency: str = "EUR") -> str:
    return f"{amount:,.2f} {currency}"


def who(account: str) -> str:
    """A short name for a demo account (the tables stay within 80 columns)."""
    if account.startswith("driver."):
        return "demo driver"
    if account.startswith("guest-"):
        return "guest (card)"
    return account


def stories_text(result: ShowcaseResult) -> list[str]:
    s = result.money.stories
    a, w, f, r = s.adhoc, s.wallet, s.fleet, s.refund
    on_invoice = next((d.sessions for d in result.money.books.documents
                       if d.number == f.invoice), f.sessions)
    difference = f.invoice_total.amount - f.posted.amount
    rounding = (f"receivable {f.receivable}" if not difference else
                f"its VAT is computed once on the invoice's net (EN 16931 BR-CO-17), so "
                f"{difference:+} of VAT rounding is booked and the receivable is {f.receivable}")
    return [
        f"Ad hoc card payer ({a.card}) at {a.station_id}: hold {a.held} at the start, "
        f"captured {a.captured} (the rated amount), released {a.released} → receipt "
        f"{a.receipt}.",
        f"Wallet driver (the demo driver login): topped up {w.topped_up} by card; the session "
        f"at {w.station_id} took {w.debited} from the wallet, balance now {w.balance} → "
        f"receipt {w.receipt}.",
        f"Postpaid fleet {f.name} ({f.account}): {on_invoice} sessions ({f.sessions} by its "
        f"vans, the rest on its fleet card) posted to its receivable, {f.posted} → month "
        f"{s.period} billed: invoice {f.invoice} over {f.invoice_total}; {rounding}.",
        f"Refund: {r.amount} of the ad hoc session back to the card ({r.reason}) → credit "
        f"note {r.credit_note}, correcting {r.corrects}.",
    ]


def payments_table(books: Books) -> Table:
    table = Table(title="Payments (sandbox provider)", box=box.SIMPLE_HEAD)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("amount", justify="right")
    for line in books.payments:
        table.add_row(line.what, str(line.count), _eur(line.amount, line.currency))
    return table


def documents_table(books: Books) -> Table:
    currencies = sorted({d.currency for d in books.documents}) or ["EUR"]
    unit = currencies[0] if len(currencies) == 1 else ""
    table = Table(title="Documents issued, each against its payment", box=box.SIMPLE_HEAD,
                  pad_edge=False)
    for column, justify in (("number", "left"), ("type", "left"), ("for", "left"),
                            ("sess.", "right"), (f"total {unit}", "right"),
                            (f"paid {unit}", "right"), ("", "left")):
        table.add_column(column.strip(), justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for d in books.documents:
        amounts = [f"{v:,.2f}" if unit else _eur(v, d.currency) for v in (d.total, d.paid)]
        table.add_row(d.number, _KINDS.get(d.kind, d.kind), who(d.account), str(d.sessions),
                      *amounts, "=" if d.agrees else "[red]≠[/red]")
    return table


def ledger_lines(books: Books) -> list[str]:
    ledger = books.ledger
    verify = "intact" if ledger.verified else f"FAILED ({ledger.problem})"
    proof = "OK" if ledger.proof_ok else "FAILED"
    return [
        f"Ledger: {ledger.entries} entries; `ledger verify`: {verify}; trial balance: "
        f"{'balanced' if ledger.balanced else 'NOT balanced'}.",
        f"Day {ledger.root.day} closed: Merkle root {ledger.root.root[:16]}… over "
        f"{ledger.root.entry_count} entries.",
        f"Inclusion proof of receipt {ledger.proof_document}'s payment under that root: "
        f"{proof} ({ledger.proof_file}).",
    ]


def browse_lines(result: ShowcaseResult) -> list[str]:
    books, data_dir = result.money.books, result.data_dir
    files = sum(len(d.files) for d in books.documents)
    url = sqlite_url_for(Path(data_dir))
    return [
        f"Files: {files} files in {books.documents_dir}/ (PDF/A-3 with embedded Factur-X, "
        f"CII XML and UBL XML for each of the {len(books.documents)} documents).",
        "Check the proof yourself: python3 src/evbill/ledger/proof_check.py "
        f"{books.ledger.proof_file} {books.ledger.root.root}",
        "Browse it all in the portal: start",
        # a demo over plain http: the placeholder issuer allowed, cookies without Secure
        f"  EVBILL_DATA_DIR={data_dir} EVBILL_DATABASE_URL={url} EVBILL_INVOICE_DEMO=true "
        "EVBILL_API_DEMO=true .venv/bin/evbill serve",
        "then open http://127.0.0.1:8000/portal/login (API under http://127.0.0.1:8000/api/v1).",
    ]


def logins_table(result: ShowcaseResult) -> Table:
    table = Table(title="Demo logins (portal and API)", box=box.SIMPLE_HEAD)
    for column in ("role", "email", "password"):
        table.add_column(column)
    for login in result.money.logins:
        table.add_row(login.role, login.email, login.password)
    return table


def audit_line(result: ShowcaseResult) -> str:
    audit = result.money.audit
    if audit is None:
        return "evbill audit: not run."
    return f"evbill audit: {audit[1]}"


def money_report(result: ShowcaseResult, console: Console) -> None:
    """Print the money summary of a live demo run."""
    console.rule("The money path, for real")
    for line in stories_text(result):
        console.print("• " + line, highlight=False)
    books = result.money.books
    console.print(payments_table(books))
    console.print(documents_table(books))
    for line in ledger_lines(books):
        console.print(line, highlight=False)
    console.print(audit_line(result), highlight=False)
    for line in browse_lines(result):
        console.print(line, highlight=False, soft_wrap=True)
    console.print(logins_table(result))


def money_problems(result: ShowcaseResult) -> list[str]:
    """What went wrong on the money path (empty when every check holds)."""
    books, problems = result.money.books, []
    ledger = books.ledger
    if not ledger.verified:
        problems.append(f"ledger verify failed: {ledger.problem}")
    if not ledger.balanced:
        problems.append("the trial balance does not balance")
    if not ledger.proof_ok:
        problems.append(f"the inclusion proof of {ledger.proof_document} does not check")
    problems += [f"{d.number} totals {d.total}, its payment {d.paid}"
                 for d in books.documents if not d.agrees]
    problems += [f"{what} has no document" for what in books.undocumented]
    audit = result.money.audit
    if audit is not None and audit[0]:
        problems.append(f"evbill audit found {audit[0]} mismatch(es)")
    return problems
