"""Reading business refusals back out of Temporal failures."""

from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError


def refusal_of(error: BaseException) -> ApplicationError | None:
    """The non-retryable ApplicationError (a domain.errors refusal) behind an activity or child
    failure, or None if the failure was something else."""
    cause = error.cause if isinstance(error, (ActivityError, ChildWorkflowError)) else error
    while isinstance(cause, (ActivityError, ChildWorkflowError)):
        cause = cause.cause
    if isinstance(cause, ApplicationError) and cause.type:
        return cause
    return None


def is_refusal(error: BaseException, name: str) -> bool:
    refusal = refusal_of(error)
    return refusal is not None and refusal.type == name
