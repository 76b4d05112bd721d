"""The order workflow: OrderWorkflow (workflow.py) and its steps, one module per concern.

`from workflows.order import OrderWorkflow` is the way in (the worker, the API, the tests).

In the workflow sandbox: the worker's sandbox imports workflow.py afresh for each workflow
instance; workflow.py imports the step modules (state, door, ops, intake, stock, payment,
fulfilment, after_sales, cancellation) inside `workflow.unsafe.imports_passed_through()`, as
each of them does with ours, so they are loaded once per worker process and shared. That is
safe because they hold no module-level state that changes: every run's state lives on the
objects OrderWorkflow makes in `__init__`.
"""

from workflows.order.workflow import OrderWorkflow

__all__ = ["OrderWorkflow"]
