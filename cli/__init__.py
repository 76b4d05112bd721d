"""The `oms` command: the whole dev stack in one process tree, and each part on its own.

This package is the command line only: one module per command group, each a thin layer over the
code that does the work. `app` is the entry point (`oms = "cli:app"` in pyproject.toml, and
`python -m cli`, which the dev stack uses to start its children):

    dev.py       `oms dev`, `oms temporal-cli-path`
    serve.py     `oms worker`, `oms api`
    bench.py     `oms bench` (the harness is bench/)
    database.py  `oms migrate`, `oms seed`
    simulate.py  `oms simulate` (the simulator is devstack/simulator.py)
    importer.py  `oms import`
    ops.py       `oms ops ...`
    common.py    what the commands share; terminal.py: untrusted text printed safely

Every command reads configuration only from `OMS_*` variables (config/settings.py). Imports of
the heavy parts (worker, API, store) happen inside the commands so `oms --help` stays fast.
"""

import typer

# The command modules, never their functions, are bound here: `cli.dev` stays the module.
from cli import bench, database, dev, importer, ops, serve, simulate

app = typer.Typer(
    help="Orderflow: order lifecycle orchestrator on Temporal.",
    no_args_is_help=True,
    add_completion=False,
)
# In the order `oms --help` lists them.
app.command()(dev.dev)
app.command()(serve.worker)
app.command()(bench.bench)
app.command()(serve.api)
app.command()(database.migrate)
app.command("seed")(database.seed_command)
app.command()(simulate.simulate)
app.command("temporal-cli-path")(dev.temporal_cli_path_command)
# `oms import FILE --channel NAME`: a shop's export through the HTTP API (cli/importer.py).
app.command("import")(importer.import_command)
# `oms ops ...`: the operations desk, over the HTTP API (cli/ops.py).
app.add_typer(ops.ops_app, name="ops")

__all__ = ["app"]
