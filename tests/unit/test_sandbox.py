"""How the worker runs the sandbox: config/sandbox.py reads serialization contexts from the
in-sandbox instance directly (these tests pin the SDK internals that relies on: if temporalio
changes them, this fails first), and the worker keeps the workflow modules' bytecode."""

import os
import stat
import sys
import tempfile
from pathlib import Path

import pytest
import temporalio.converter
import temporalio.workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import CommandType
from temporalio.api.failure.v1 import Failure
from temporalio.worker import WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _fake_info

from config.sandbox import FastContextRunner
from worker import keep_bytecode, sandbox_runner
from workflows.shipment import ShipmentWorkflow


def details() -> WorkflowInstanceDetails:
    # As SandboxedWorkflowRunner.prepare_workflow builds them.
    return WorkflowInstanceDetails(
        payload_converter_factory=temporalio.converter.DataConverter.default._new_payload_converter,
        failure_converter_class=temporalio.converter.DataConverter.default.failure_converter_class,
        interceptor_classes=[],
        defn=temporalio.workflow._Definition.must_from_class(ShipmentWorkflow),
        info=_fake_info,
        randomness_seed=-1,
        extern_functions={},
        disable_eager_activity_execution=False,
        worker_level_failure_exception_types=[],
        patch_activation_callback=None,
        last_completion_result=Payloads(),
        last_failure=Failure(),
    )


async def test_the_worker_reads_contexts_as_the_sdk_sandbox_does() -> None:
    runner = sandbox_runner()
    assert isinstance(runner, FastContextRunner)
    fast = runner.create_instance(details())
    sdk = SandboxedWorkflowRunner(restrictions=runner.restrictions).create_instance(details())
    commands = [
        None,
        CommandInfo(command_type=CommandType.COMMAND_TYPE_SCHEDULE_ACTIVITY_TASK, command_seq=1),
        CommandInfo(command_type=CommandType.COMMAND_TYPE_START_CHILD_WORKFLOW_EXECUTION, command_seq=1),
        CommandInfo(command_type=CommandType.COMMAND_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION, command_seq=1),
    ]
    for command in commands:
        context = fast.get_serialization_context(command)
        assert context == sdk.get_serialization_context(command)
        assert context == temporalio.converter.WorkflowSerializationContext(
            namespace=_fake_info.namespace, workflow_id=_fake_info.workflow_id
        )
        assert fast.get_external_store_context(command) == sdk.get_external_store_context(command)


def test_the_worker_keeps_bytecode_in_a_folder_of_its_own(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With PYTHONDONTWRITEBYTECODE set, the worker still writes bytecode (the sandbox imports
    the workflow modules for every instance), in a folder only it may write."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "pycache_prefix", None)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    keep_bytecode()
    folder = tmp_path / f"orderflow-pycache-{os.getuid()}"
    assert sys.pycache_prefix == str(folder) and sys.dont_write_bytecode is False
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_a_folder_others_may_write_is_not_used_for_bytecode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / f"orderflow-pycache-{os.getuid()}"
    folder.mkdir()
    folder.chmod(0o777)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(sys, "pycache_prefix", None)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    keep_bytecode()
    assert sys.pycache_prefix is None and sys.dont_write_bytecode is True
