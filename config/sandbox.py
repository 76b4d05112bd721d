"""The workflow sandbox the worker runs: Temporal's, with one per-payload cost taken out.

For every payload of every workflow activation and completion (inputs, results, signal bodies,
the summaries shown in the Temporal UI) the SDK (temporalio 1.35) asks the workflow instance
which serialization context applies. The sandboxed instance answers by `exec`-ing a two-line
source string inside the sandbox: a compile, and the restricted-import context entered and left,
each time. The bench's profile of the worker (`py-spy --gil`, docs/performance.md) put a quarter
of the worker's Python time there.

The answer itself is a plain lookup on the in-sandbox instance (its workflow info and its pending
activities or child workflows), which imports nothing and reads no clock. So `FastContextRunner`
asks the in-sandbox instance directly. Everything else (imports, activations, restrictions) is the
SDK's sandbox unchanged. This reaches into `temporalio.worker.workflow_sandbox._runner`, which is
private. temporalio is pinned in pyproject.toml, and tests/unit/test_sandbox.py fails if the SDK
changes the pieces this relies on.
"""

from dataclasses import dataclass
from typing import Any

from temporalio.converter import SerializationContext
from temporalio.worker import WorkflowInstance, WorkflowInstanceDetails
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner
from temporalio.worker.workflow_sandbox._runner import _Instance

# The name under which the SDK keeps the in-sandbox instance in the sandbox's globals.
IN_SANDBOX = "__temporal_in_sandbox"


class _FastContextInstance(_Instance):
    def _in_sandbox(self) -> Any:
        return self.globals_and_locals[IN_SANDBOX]

    def get_serialization_context(self, command_info: Any) -> SerializationContext | None:
        context: SerializationContext | None = self._in_sandbox().get_serialization_context(command_info)
        return context

    def get_external_store_context(self, command_info: Any) -> Any:
        return self._in_sandbox().get_external_store_context(command_info)


@dataclass(frozen=True)
class FastContextRunner(SandboxedWorkflowRunner):
    """Temporal's sandbox; serialization contexts are read without a trip through `exec`."""

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _FastContextInstance(det, self.runner_class, self.restrictions)
