"""The worker's sandbox still refuses non-deterministic calls in workflow code (the wall clock,
Python's random generator), and why issue 18's candidate "pass every module through the sandbox"
(`SandboxRestrictions.with_passthrough_all_modules()`) was not taken: with it, the same workflow
module is imported outside the sandbox, its `datetime` and `random` are the real ones, and both
calls run unchecked (docs/performance.md, 2026-12-02). On the session's dev server; no timing."""

import secrets
from dataclasses import replace

import pytest
from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from config.sandbox import FastContextRunner
from tests.workflows.clock_workflow import ClockWorkflow
from worker import sandbox_runner


async def _run(client: Client, runner: FastContextRunner, what: str) -> str:
    queue = f"sandbox-guard-{secrets.token_hex(3)}"
    # A refused call fails the workflow (instead of retrying its task forever), so the test sees it.
    async with Worker(
        client,
        task_queue=queue,
        workflows=[ClockWorkflow],
        workflow_runner=runner,
        workflow_failure_exception_types=[Exception],
    ):
        result: str = await client.execute_workflow(
            ClockWorkflow.run, what, id=f"sandbox-guard-{secrets.token_hex(4)}", task_queue=queue
        )
        return result


@pytest.mark.parametrize(("what", "call"), [("clock", "datetime.datetime.now"), ("random", "random.random")])
async def test_the_worker_sandbox_refuses_non_deterministic_calls(client: Client, what: str, call: str) -> None:
    with pytest.raises(WorkflowFailureError) as failure:
        await _run(client, sandbox_runner(), what)
    assert f"Cannot access {call}" in str(failure.value.cause)
    assert await _run(client, sandbox_runner(), "nothing") == "deterministic"


async def test_passing_every_module_through_would_let_them_run(client: Client) -> None:
    runner = sandbox_runner()
    everything = replace(runner, restrictions=runner.restrictions.with_passthrough_all_modules())
    # If this starts failing, the SDK checks passed-through modules too: issue 18's candidate
    # can be measured again.
    assert await _run(client, everything, "clock")
    assert float(await _run(client, everything, "random")) < 1
