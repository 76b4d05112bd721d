"""Admission control for `POST /orders` (issue 18, the flash sale): at most
`OMS_MAX_SUBMISSIONS_IN_FLIGHT` submissions are worked on at once in one API process. One more is
refused before it reads or writes anything: 503 `/problems/overloaded` with `Retry-After`, the
same answer as an outage (docs/api.md "Conventions"), so a client already repeats it. Nothing was
claimed, started or recorded: a repeat of the same body is a first submission.

Why a limit: every submission holds a database connection for its claims and a Temporal
Update-with-Start until the order is verified. Past a few dozen at once they only queue (for the
pool, for the worker) and each waits longer; past the pool's own timeout, a submission would fail
after claiming its id. A refusal up front is cheap, changes nothing, and tells the client when to
come back.

The count is this process's (several API processes each admit their own limit). The route is
`async`, so the count is taken and given back on the event loop: no lock needed.
"""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from api.problems import ProblemError

OVERLOADED_TYPE = "/problems/overloaded"
# Seconds a refused submission is told to wait: about one submission's round trip under load.
OVERLOADED_RETRY_AFTER = "1"


class Admission:
    """Submissions in flight, at most `limit` (0: no limit)."""

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError("limit must be 0 (off) or more")
        self.limit = limit
        self.in_flight = 0
        self.refused = 0

    def try_enter(self) -> bool:
        if self.limit and self.in_flight >= self.limit:
            self.refused += 1
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


def overloaded() -> ProblemError:
    return ProblemError(
        503,
        "too many orders are being submitted right now; nothing was recorded: repeat the same"
        " request after Retry-After seconds",
        type_=OVERLOADED_TYPE,
        headers={"Retry-After": OVERLOADED_RETRY_AFTER},
    )


def admission_of(request: Request) -> Admission:
    """The app's admission counter, made on first use from its settings."""
    admission: Admission | None = getattr(request.app.state, "admission", None)
    if admission is None:
        admission = Admission(request.app.state.settings.max_submissions_in_flight)
        request.app.state.admission = admission
    return admission


async def submission_slot(request: Request) -> AsyncIterator[None]:
    """A route dependency: holds one slot while the route runs, or refuses with 503."""
    admission = admission_of(request)
    if not admission.try_enter():
        from api.metrics import ORDERS_SUBMITTED

        ORDERS_SUBMITTED.labels("overloaded").inc()
        raise overloaded()
    try:
        yield
    finally:
        admission.leave()


# scope="function": the slot is given back when the route returns, before the answer is sent.
SubmissionSlot = Annotated[None, Depends(submission_slot, scope="function")]
