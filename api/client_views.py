"""What of an order leaves the API for the caller: ops see it whole, every other key sees it
through domain.disclosure (no ops notes, no other keys' names, no risk codes, no internal
reasons). Every route that answers a client key with an order, a timeline or a return passes its
answer through here."""

import threading
from collections.abc import Mapping
from typing import Annotated

from fastapi import Depends, Request

from api.auth import Principal
from domain import disclosure
from domain.enums import Role
from domain.models import OrderView, ReturnView, TimelineEntry

_lock = threading.Lock()


async def key_roles(request: Request) -> Mapping[str, Role]:
    """Every configured key's name with its role, built once per app. A name configured with
    several roles counts as ops, so that no ops name is ever taken for a client's."""
    state = request.app.state
    roles: Mapping[str, Role] | None = getattr(state, "key_roles", None)
    if roles is None:
        with _lock:
            table: dict[str, Role] = {}
            for entry in state.settings.api_key_entries():
                if table.get(entry.name) is not Role.OPS:
                    table[entry.name] = Role(entry.role)
            state.key_roles = roles = table
    return roles


KeyRolesDep = Annotated[Mapping[str, Role], Depends(key_roles)]


def _viewer(principal: Principal, roles: Mapping[str, Role]) -> disclosure.Viewer | None:
    """None for ops (they see everything), else the viewer to redact for."""
    return None if principal.role is Role.OPS else disclosure.Viewer(name=principal.name, key_roles=roles)


def order_for(principal: Principal, roles: Mapping[str, Role], order: OrderView) -> OrderView:
    viewer = _viewer(principal, roles)
    return order if viewer is None else disclosure.client_order(order, viewer)


def orders_for(principal: Principal, roles: Mapping[str, Role], orders: list[OrderView]) -> list[OrderView]:
    viewer = _viewer(principal, roles)
    return orders if viewer is None else [disclosure.client_order(o, viewer) for o in orders]


def timeline_for(
    principal: Principal, roles: Mapping[str, Role], entries: list[TimelineEntry]
) -> list[TimelineEntry]:
    viewer = _viewer(principal, roles)
    return entries if viewer is None else disclosure.client_timeline(entries, viewer)


def return_for(principal: Principal, view: ReturnView) -> ReturnView:
    return view if principal.role is Role.OPS else disclosure.client_return(view)
