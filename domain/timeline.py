"""When a timeline entry happened, as the order records it."""

from collections.abc import Sequence
from datetime import datetime

from domain.models import TimelineEntry


def entry_time(timeline: Sequence[TimelineEntry], now: datetime) -> datetime:
    """The time to stamp the next entry with: `now` (workflow time), but never before the entry
    it follows. Workflow time may step back by milliseconds between workflow tasks (the SDK moves
    it on by the worker's own measure after a local activity, the next task brings the server's),
    and a reader of the timeline takes its order for the order things happened in."""
    if timeline and timeline[-1].at > now:
        return timeline[-1].at
    return now
