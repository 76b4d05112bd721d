"""Dead ends the fuzzer finds on main that are being fixed elsewhere (issue 16, the other
deliverables). Each finding is keyed to one of them only when it matches that dead end narrowly;
anything else fails the run.

Once a fix lands, delete its entry from KNOWN_DEAD_ENDS (or run with `OMS_FUZZ_STRICT=1` to treat
every entry as fixed): a finding it used to excuse then fails the run.
"""

from __future__ import annotations

import re
from typing import Any

from tests.lifecycle.world import Finding

# Empty since issue 16 landed: every dead end the fuzzer found on main before it is fixed, and each
# key below, found again, now fails the run (docs/fuzzing.md keeps what it found, with seeds):
# returned-to-sender, early-receipt-dropped, return-never-received, replacement-lost,
# no-claims-or-ops-fixes, late-carrier-event-absorbed (now a 409), silent-carrier (refund, or a
# not_received claim reshipped: the silent parcel is then written off).
KNOWN_DEAD_ENDS: dict[str, str] = {}
# How far along a parcel is, per carrier status: an event ranked under the parcel's status is stale.
_RANK = {"label_created": 0, "in_transit": 1, "out_for_delivery": 2, "delivered": 3, "returned_to_sender": 3}
_CARRIER = re.compile(r"^carrier (\w+)/\S+ on parcel \S+ \((\w+), order")


def known_dead_end(finding: Finding, order: dict[str, Any] | None) -> str | None:
    """The key of the known dead end this finding is, or None when it is a new one."""
    if order is None:
        return None
    shipments = order["shipments"]
    returns = order["returns"]
    if finding.invariant == "way-out":
        reason = order["attention_reason"] or ""
        if "delivery over its SLA" in reason and all(
            s["status"] in ("label_created", "in_transit", "out_for_delivery", "delivered") for s in shipments
        ):
            return "silent-carrier"
        if any(s["status"] == "returned_to_sender" for s in shipments):
            return "returned-to-sender"
        if order["status"] == "returning" and any(r["status"] in ("requested", "approved", "in_transit") for r in returns):
            return "return-never-received"
        reshipped = [s for s in shipments[1:] if s["status"] == "exception"]
        if reshipped:
            return "replacement-lost"
        if any(s["status"] == "exception" for s in shipments):
            return "no-claims-or-ops-fixes"  # lost/damaged beyond policy: `reship`/`refund` would apply
    stale = _CARRIER.match(finding.detail) if finding.invariant == "202-changes-something" else None
    if stale is not None:
        event, parcel = stale.groups()
        if parcel in ("delivered", "returned_to_sender") or _RANK.get(event, 9) < _RANK.get(parcel, -1):
            return "late-carrier-event-absorbed"
    early = ("(requested)", "(approved)", "(in_transit)")
    if finding.invariant == "202-changes-something" and finding.detail.startswith("receipt of") and any(
        state in finding.detail for state in early
    ):
        return "early-receipt-dropped"
    return None
