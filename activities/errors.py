"""The one place where business refusals become Temporal failures.

A refusal (domain.errors.BusinessError) becomes a non-retryable ApplicationError whose type is the
refusal's class name, so the workflow can tell a declined card from a network hiccup.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

from temporalio.exceptions import ApplicationError

from domain.errors import BusinessError

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def refusals_as_application_errors() -> Iterator[None]:
    try:
        yield
    except BusinessError as refusal:
        raise ApplicationError(refusal.message, type=type(refusal).__name__, non_retryable=True) from refusal


def business_refusals(fn: Callable[P, R]) -> Callable[P, R]:
    """Decorator form of refusals_as_application_errors, for activity methods."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with refusals_as_application_errors():
            return fn(*args, **kwargs)

    return wrapper
