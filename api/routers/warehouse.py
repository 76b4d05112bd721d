"""Warehouse reports: pick confirmations (API.md "Warehouse and carriers")."""

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import Field

from api.auth import Principal, require
from api.deps import ClientDep
from api.problems import ProblemError
from api.temporal_calls import signal_workflow
from domain import ids
from domain.enums import Role
from domain.models import ParcelLine, PickConfirmation, Strict

router = APIRouter(tags=["warehouse"])
WarehouseRole = Annotated[Principal, Depends(require(Role.WAREHOUSE))]


class PickedBody(Strict):
    lines: list[ParcelLine] | None = None
    picker: Annotated[str, Field(min_length=1, max_length=100)] = "warehouse"


class Accepted(Strict):
    accepted: bool = True


@router.post("/warehouse/shipments/{shipment_id}/picked", status_code=202, response_model=Accepted)
async def picked(shipment_id: str, body: PickedBody, _: WarehouseRole, client: ClientDep) -> Accepted:
    delivered = await signal_workflow(
        client,
        ids.shipment_workflow_id(shipment_id),
        "pick_confirmed",
        PickConfirmation(lines=body.lines, picker=body.picker),
    )
    if not delivered:
        raise ProblemError(404, f"no open shipment {shipment_id}")
    return Accepted()
