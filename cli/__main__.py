"""`python -m cli`: the `oms` command, as the dev stack and the bench start their children."""

from cli import app

app()
