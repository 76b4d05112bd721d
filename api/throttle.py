"""Failure throttling in bounded memory: N failed attempts per name, then one per `retry_seconds`.

Used for guessed credentials: failed console sign-ins per client address and per presented key
(api.console.router), and unknown API keys per client address (api.auth.RoleGuard). A name is
whatever is counted: an address, or the hex SHA-256 of a presented key (never the key itself).

Each name has a token bucket of `burst` failures refilled at one per `retry_seconds`. It is kept as
one number, `full_at`: the moment its bucket is full again, i.e. the moment its failures are
forgotten. A failure pushes `full_at` one `retry_seconds` later; the name is refused while fewer
than one token is left.

Memory is bounded by `max_entries` names. A name whose bucket is full again holds nothing worth
keeping and goes first. When every kept name still remembers failures, a new name evicts the one
that would be forgotten soonest (the smallest `full_at`): the name that failed least and longest
ago. So a flood of fresh names (new addresses, new guessed keys: one failure each) evicts only other
fresh names, and the counter of a name that is throttled, which refills last, goes only once every
other kept name would be remembered longer than it, that is once the attacker has made about
`max_entries` x `burst` failed attempts under distinct names inside one refill window: more
attempts than flushing the one counter wins back. The price of that choice: a flood of more than
`max_entries` fresh names within one `retry_seconds` forgets the oldest of them after a failure or
two (they count from zero again), so an attacker with that many names gets a little more than
`burst` attempts per name. Failing closed instead (refusing new names while the table is full)
would let the same flood lock everyone out.

`wait` and `fail` are two steps: requests of one name in flight at the same moment (threads of the
pool) may all pass `wait` before any `fail`, so the limit can be exceeded by the number of requests
in flight at once, never more.

The state is this process's: with several API processes each limits on its own.
"""

import heapq
import math
import threading
import time
from collections.abc import Callable


class FailureLimiter:
    """Failed attempts per name, in at most `max_entries` names. Thread-safe (sync dependencies
    run in the thread pool). `wait` asks, `fail` counts; asking takes nothing, so that only what
    failed is counted."""

    def __init__(
        self,
        burst: int,
        retry_seconds: float,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if burst < 1 or retry_seconds <= 0 or max_entries < 1:
            raise ValueError("burst and max_entries must be at least 1, retry_seconds above 0")
        self.burst = burst
        self.retry_seconds = retry_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._full_at: dict[str, float] = {}  # name -> when its failures are forgotten
        # (full_at, name) for every kept name, smallest first; an entry whose full_at is no longer
        # the name's (it failed again since, or was dropped) is stale and skipped when popped.
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._full_at)

    def wait(self, name: str) -> int | None:
        """None when `name` may try now, else the whole seconds (>= 1) until it may."""
        with self._lock:
            full_at = self._full_at.get(name)
            if full_at is None:
                return None
            # Tokens left = burst - (full_at - now) / retry_seconds; refused below one.
            early = full_at - self._clock() - (self.burst - 1) * self.retry_seconds
            return max(1, math.ceil(early)) if early > 0 else None

    def fail(self, name: str) -> None:
        """Count one failed attempt of `name`."""
        with self._lock:
            now = self._clock()
            current = self._full_at.get(name)
            if current is None or current <= now:
                self._forget_expired(now)
                if name not in self._full_at and len(self._full_at) >= self.max_entries:
                    self._evict_soonest()
                current = now
            full_at = current + self.retry_seconds
            self._full_at[name] = full_at
            heapq.heappush(self._heap, (full_at, name))
            if len(self._heap) > 2 * self.max_entries:
                self._compact()

    def _forget_expired(self, now: float) -> None:
        """Drop the names whose buckets are full again (they remember no failure)."""
        while self._heap and self._heap[0][0] <= now:
            full_at, name = heapq.heappop(self._heap)
            if self._full_at.get(name) == full_at:
                del self._full_at[name]

    def _evict_soonest(self) -> None:
        while self._heap:
            full_at, name = heapq.heappop(self._heap)
            if self._full_at.get(name) == full_at:
                del self._full_at[name]
                return

    def _compact(self) -> None:
        """Rebuild the heap without its stale entries (each failure of a kept name leaves one)."""
        self._heap = [(full_at, name) for name, full_at in self._full_at.items()]
        heapq.heapify(self._heap)
