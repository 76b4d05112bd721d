"""config/payload_visits.py: the worker's payload visits give the SDK's answers (temporalio is
pinned; if the SDK changes the functions this replaces, this fails first), and walk nothing when
there is nothing to apply."""

import inspect
from collections.abc import Sequence

import temporalio.bridge.worker as bridge_worker
from temporalio.api.common.v1 import Payload
from temporalio.bridge.proto import workflow_activation, workflow_commands, workflow_completion
from temporalio.converter import DataConverter, PayloadCodec

from config import payload_visits
from worker import sandbox_runner


class Reversing(PayloadCodec):
    """A deterministic codec (the real one encrypts with a random nonce), counting its calls."""

    def __init__(self) -> None:
        self.calls = 0

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.calls += 1
        return [Payload(metadata={"encoding": b"binary/reversed"}, data=p.SerializeToString()[::-1]) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        self.calls += 1
        return [Payload.FromString(p.data[::-1]) for p in payloads]


def completion() -> workflow_completion.WorkflowActivationCompletion:
    result = Payload(metadata={"encoding": b"json/plain"}, data=b'{"status": "closed"}')
    step = Payload(metadata={"encoding": b"json/plain"}, data=b'"reserve"')
    return workflow_completion.WorkflowActivationCompletion(
        run_id="run",
        successful=workflow_completion.Success(
            commands=[
                workflow_commands.WorkflowCommand(
                    schedule_activity=workflow_commands.ScheduleActivity(seq=1, activity_type="a", arguments=[step])
                ),
                workflow_commands.WorkflowCommand(
                    complete_workflow_execution=workflow_commands.CompleteWorkflowExecution(result=result)
                ),
            ]
        ),
    )


def activation(payload: Payload) -> workflow_activation.WorkflowActivation:
    return workflow_activation.WorkflowActivation(
        run_id="run",
        jobs=[
            workflow_activation.WorkflowActivationJob(
                signal_workflow=workflow_activation.SignalWorkflow(signal_name="picked", input=[payload])
            )
        ],
    )


async def test_with_a_codec_the_payloads_come_out_as_the_sdk_makes_them() -> None:
    converter = DataConverter(payload_codec=Reversing())
    ours, sdk = completion(), completion()
    await payload_visits.encode_completion(ours, converter, encode_headers=True, storage_concurrency_limit=1)
    await payload_visits.SDK_ENCODE_COMPLETION(sdk, converter, encode_headers=True, storage_concurrency_limit=1)
    assert ours == sdk and ours != completion()

    encoded = sdk.successful.commands[1].complete_workflow_execution.result
    ours_in, sdk_in = activation(encoded), activation(encoded)
    await payload_visits.decode_activation(ours_in, converter, decode_headers=True, storage_concurrency_limit=1)
    await payload_visits.SDK_DECODE_ACTIVATION(sdk_in, converter, decode_headers=True, storage_concurrency_limit=1)
    assert ours_in == sdk_in
    assert ours_in.jobs[0].signal_workflow.input[0] == completion().successful.commands[1].complete_workflow_execution.result


async def test_without_a_codec_nothing_is_walked_or_changed() -> None:
    converter = DataConverter()
    assert converter.payload_codec is None and converter.external_storage is None
    ours = completion()
    await payload_visits.encode_completion(ours, converter, encode_headers=True, storage_concurrency_limit=1)
    assert ours == completion()
    job = activation(Payload(data=b"x"))
    await payload_visits.decode_activation(job, converter, decode_headers=True, storage_concurrency_limit=1)
    assert job == activation(Payload(data=b"x"))


def test_the_worker_runtime_installs_them_in_place_of_the_sdks() -> None:
    sandbox_runner()
    assert bridge_worker.decode_activation is payload_visits.decode_activation
    assert bridge_worker.encode_completion is payload_visits.encode_completion
    for ours, sdk in [
        (payload_visits.decode_activation, payload_visits.SDK_DECODE_ACTIVATION),
        (payload_visits.encode_completion, payload_visits.SDK_ENCODE_COMPLETION),
    ]:
        assert list(inspect.signature(ours).parameters) == list(inspect.signature(sdk).parameters)
