"""runtime/sandbox.py reads serialization contexts from the in-sandbox instance directly. These
tests pin the SDK internals that relies on: if temporalio changes them, this fails first."""

import temporalio.converter
import temporalio.workflow
from temporalio.api.common.v1 import Payloads
from temporalio.api.enums.v1 import CommandType
from temporalio.api.failure.v1 import Failure
from temporalio.worker import WorkflowInstanceDetails
from temporalio.worker._command_aware_visitor import CommandInfo
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _fake_info

from runtime.sandbox import FastContextRunner
from worker import sandbox_runner
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
