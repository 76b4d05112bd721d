"""The order workflow (OrderWorkflow, in workflow.py) and its steps, one module per concern."""

from workflows.order.workflow import OrderWorkflow

__all__ = ["OrderWorkflow"]
