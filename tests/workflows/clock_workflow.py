"""A workflow that reads the wall clock and Python's random generator, both non-deterministic:
the sandbox must refuse them (tests/workflows/test_sandbox_guard.py). Its own module, importing
nothing of ours, because the sandbox imports a workflow's module afresh for each run."""

import datetime
import random

from temporalio import workflow


@workflow.defn(name="SandboxGuardClock")
class ClockWorkflow:
    @workflow.run
    async def run(self, what: str) -> str:
        if what == "clock":
            return datetime.datetime.now().isoformat()
        if what == "random":
            return str(random.random())
        return "deterministic"
