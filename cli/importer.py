"""`oms import FILE --channel NAME`: bulk intake of a shop's export through the HTTP API.

The file is read and mapped here first (domain/channels), so a bad row is reported with its row
number and never sent; each good order is then posted whole to POST /channels/{channel}/orders,
which maps it again and starts it, so an order is created whole or not at all. Duplicates are the
API's business: (channel, channel order id) is the idempotency key there, so importing a file
twice creates nothing the second time. A bounded number of requests run at once.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from cli.common import load_settings
from cli.ops import resolve_base_url
from cli.terminal import literal
from config.settings import Settings, first_key_with_role
from domain.channels import ChannelFormat, ChannelFormatError, map_order, read_marketplace_csv
from domain.models import Problem
from domain.spreadsheet import safe_row

# Answers worth another try, and how often: the API sheds load with 429/503 and a Retry-After.
RETRYABLE = frozenset({429, 502, 503, 504})
ATTEMPTS = 5
_ROW_REFERENCE = re.compile(r"^row (\d+)")


class Outcome(StrEnum):
    CREATED = "created"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"  # the row or the API refused the order: fix the data
    FAILED = "failed"  # the API could not be reached or broke: try the import again


@dataclass(frozen=True)
class Unit:
    """One order of the file: its rows (spreadsheet rows, or item numbers in a JSON list), what to
    post, and the problems found before posting (then nothing is posted)."""

    rows: tuple[int, ...]
    channel_order_id: str
    payload: Any
    problems: tuple[Problem, ...] = ()


@dataclass
class RowResult:
    row: int
    channel_order_id: str
    outcome: Outcome
    order_id: str | None = None
    reasons: list[str] = field(default_factory=list)


def _reason(problem: Problem) -> str:
    return f"{problem.field}: {problem.message}"


def read_units(fmt: ChannelFormat, text: str) -> list[Unit]:
    """The orders of an export. Marketplace: CSV, rows grouped by order id. Storefront and social:
    a JSON list of orders (or one order). A file that is unreadable as a whole raises ChannelFormatError."""
    if fmt.is_csv:
        return [
            Unit(group.rows, group.channel_order_id, group.as_csv(), group.problems)
            for group in read_marketplace_csv(text)
        ]
    try:
        document = json.loads(text)
    except RecursionError:  # Python's parser gives up at about a thousand levels, not with ValueError
        raise ChannelFormatError([Problem(field="file", message="is nested too deeply")]) from None
    except ValueError as error:
        raise ChannelFormatError([Problem(field="file", message=f"is not JSON: {error}")]) from None
    items = document if isinstance(document, list) else [document]
    units = []
    for number, item in enumerate(items, start=1):
        try:
            mapped = map_order(fmt, item)
        except ChannelFormatError as error:
            problems = tuple(Problem(field=f"item {number}, {p.field}", message=p.message) for p in error.problems)
            order_id = item.get("id") or item.get("order_id") if isinstance(item, dict) else None
            units.append(Unit((number,), str(order_id or ""), item, problems))
            continue
        units.append(Unit((number,), mapped.request.channel_order_id or "", item))
    return units


def _in_file_terms(unit: Unit, fmt: ChannelFormat, problems: Iterable[Problem]) -> list[str]:
    """The API numbers the rows of the one order it was sent from 2; the file's numbers are the unit's."""
    reasons = []
    for problem in problems:
        name = problem.field
        match = _ROW_REFERENCE.match(name) if fmt.is_csv else None
        if match and 2 <= int(match.group(1)) < 2 + len(unit.rows):
            name = f"row {unit.rows[int(match.group(1)) - 2]}" + name[match.end() :]
        elif not fmt.is_csv:
            name = f"item {unit.rows[0]}, {name}"
        reasons.append(f"{name}: {problem.message}")
    return reasons


def _problem_of(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.text[:300]}
    return body if isinstance(body, dict) else {"detail": str(body)[:300]}


async def _post(http: httpx.AsyncClient, fmt: ChannelFormat, unit: Unit) -> tuple[Outcome, str | None, list[str]]:
    if fmt.is_csv:
        request: dict[str, Any] = {"content": unit.payload.encode(), "headers": {"Content-Type": "text/csv"}}
    else:
        request = {"json": unit.payload}
    delay = 0.5
    for attempt in range(1, ATTEMPTS + 1):
        try:
            response = await http.post(f"/channels/{fmt.value}/orders", **request)
        except httpx.TransportError as error:
            if attempt == ATTEMPTS:
                return Outcome.FAILED, None, [f"the API did not answer: {error!r}"]
            await asyncio.sleep(delay)
            delay *= 2
            continue
        if response.status_code in RETRYABLE and attempt < ATTEMPTS:
            retry_after = response.headers.get("Retry-After", "")
            await asyncio.sleep(float(retry_after) if retry_after.replace(".", "", 1).isdigit() else delay)
            delay *= 2
            continue
        break
    body = _problem_of(response)
    if response.status_code == 201:
        return Outcome.CREATED, body.get("order_id"), []
    if response.status_code == 200:
        return Outcome.DUPLICATE, body.get("order_id"), ["imported before"]
    if response.status_code == 409 and body.get("type") == "/problems/duplicate-channel-order":
        return Outcome.DUPLICATE, body.get("order_id"), [str(body.get("detail", ""))]
    if response.status_code in (409, 422):
        errors = [Problem.model_validate(e) for e in body.get("errors") or []]
        reasons = _in_file_terms(unit, fmt, errors) or [str(body.get("detail", "refused"))]
        return Outcome.REJECTED, None, reasons
    return Outcome.FAILED, None, [f"{response.status_code}: {body.get('detail', body.get('title', ''))}"]


async def import_units(
    http: httpx.AsyncClient,
    fmt: ChannelFormat,
    units: Sequence[Unit],
    *,
    concurrency: int = 8,
    on_done: Callable[[Unit], None] | None = None,
) -> list[RowResult]:
    """Post every good unit with at most `concurrency` requests in flight; one result per row,
    in the file's row order."""
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(unit: Unit) -> list[RowResult]:
        if unit.problems:
            outcome, order_id, reasons = Outcome.REJECTED, None, [_reason(p) for p in unit.problems]
        else:
            async with gate:
                outcome, order_id, reasons = await _post(http, fmt, unit)
        if on_done is not None:
            on_done(unit)
        return [RowResult(row, unit.channel_order_id, outcome, order_id, list(reasons)) for row in unit.rows]

    batches = await asyncio.gather(*(one(unit) for unit in units))
    return sorted((result for batch in batches for result in batch), key=lambda r: r.row)


def tally(results: Iterable[RowResult]) -> dict[str, int]:
    """Rows per outcome, every outcome present."""
    counts = Counter(r.outcome.value for r in results)
    return {outcome.value: counts.get(outcome.value, 0) for outcome in Outcome}


def write_results(results: Sequence[RowResult], path: Path) -> None:
    """Per-row results as JSON (`.json`) or CSV (anything else; reasons joined by ` | `). The CSV
    echoes the shop's cells (order ids, reasons quoting values) and is opened in spreadsheets, so
    every cell is made formula-safe (domain.spreadsheet)."""
    if path.suffix.lower() == ".json":
        document = [{**asdict(r), "outcome": r.outcome.value} for r in results]
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        return
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", "channel_order_id", "outcome", "order_id", "reasons"])
    for r in results:
        writer.writerow(safe_row([r.row, r.channel_order_id, r.outcome.value, r.order_id, " | ".join(r.reasons)]))
    path.write_text(out.getvalue(), encoding="utf-8")


def results_table(results: Sequence[RowResult], *, only_problems: bool = False) -> Table:
    """The results for the terminal; order ids and reasons are the shop's text, shown literally."""
    table = Table("row", "channel order", "outcome", "order", "reasons", title="import results")
    styles = {Outcome.CREATED: "green", Outcome.DUPLICATE: "yellow", Outcome.REJECTED: "red", Outcome.FAILED: "red"}
    for r in results:
        if only_problems and r.outcome in (Outcome.CREATED, Outcome.DUPLICATE):
            continue
        table.add_row(
            literal(r.row),
            literal(r.channel_order_id),
            literal(r.outcome.value, style=styles[r.outcome]),
            literal(r.order_id),
            literal("\n".join(r.reasons)),
        )
    return table


async def run_import(
    http: httpx.AsyncClient,
    fmt: ChannelFormat,
    text: str,
    *,
    concurrency: int = 8,
    console: Console | None = None,
) -> list[RowResult]:
    """Read, post with a progress bar, and return the per-row results."""
    units = read_units(fmt, text)
    console = console or Console()
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("orders", total=len(units))
        return await import_units(
            http, fmt, units, concurrency=concurrency, on_done=lambda _: progress.advance(task)
        )


def resolve_client_key(api_key: str | None, settings: Settings, environ: Mapping[str, str]) -> str | None:
    """`--api-key`, else OMS_CLIENT_KEY, else the first client key of OMS_API_KEYS (dev keys by default)."""
    return api_key or environ.get("OMS_CLIENT_KEY") or first_key_with_role(settings.api_key_table(), "client")


def import_file(
    path: Path,
    fmt: ChannelFormat,
    *,
    base_url: str,
    api_key: str | None,
    concurrency: int,
    output: Path | None,
    only_problems: bool,
    console: Console,
) -> dict[str, int]:
    """The whole `oms import`: read, post, print per-row results, optionally write them; the tally."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ChannelFormatError([Problem(field="file", message=f"is not UTF-8 text: {error}")]) from None

    async def main() -> list[RowResult]:
        headers = {"X-API-Key": api_key} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60.0, limits=limits) as http:
            return await run_import(http, fmt, text, concurrency=concurrency, console=console)

    results = asyncio.run(main())
    console.print(results_table(results, only_problems=only_problems))
    counts = tally(results)
    console.print(", ".join(f"{count} {outcome}" for outcome, count in counts.items()) + f" of {len(results)} rows")
    if output is not None:
        write_results(results, output)
        console.print(literal(f"results written to {output}"))
    return counts


# `oms import FILE --channel NAME`, the command itself.
def import_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="the export to import")],
    channel: Annotated[str, typer.Option("--channel", help="the file's format: storefront | marketplace | social")],
    concurrency: Annotated[int, typer.Option(min=1, max=64, help="orders in flight at once")] = 8,
    output: Annotated[Path | None, typer.Option(help="write per-row results here (.json, else CSV)")] = None,
    problems_only: Annotated[bool, typer.Option("--problems-only", help="print only rejected and failed rows")] = False,
    api_url: Annotated[str | None, typer.Option(help="the API's base URL (default OMS_API_URL or OMS_API_HOST:PORT)")] = None,
    api_key: Annotated[str | None, typer.Option(help="a client key (default OMS_CLIENT_KEY or the first client key)")] = None,
) -> None:
    """Import a storefront/social JSON list or a marketplace CSV: each order whole or not at all,
    (channel, channel order id) never twice. Exit status 1 when any row was rejected or failed."""
    formats = [f.value for f in ChannelFormat]
    if channel not in formats:
        raise typer.BadParameter(f"one of {', '.join(formats)}", param_hint="--channel")
    settings = load_settings()
    console = Console()
    try:
        counts = import_file(
            file,
            ChannelFormat(channel),
            base_url=resolve_base_url(api_url, settings),
            api_key=resolve_client_key(api_key, settings, os.environ),
            concurrency=concurrency,
            output=output,
            only_problems=problems_only,
            console=console,
        )
    except ChannelFormatError as error:
        for problem in error.problems:
            # The field and message quote the file: literal text, not markup (cli.terminal).
            console.print(literal(problem.field, style="red") + literal(f": {problem.message}"))
        raise typer.Exit(2) from None
    if counts["rejected"] or counts["failed"]:
        raise typer.Exit(1)
