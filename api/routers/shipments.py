"""Shipment documents for the warehouse: the packing slip of a parcel (PDF)."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response
from starlette.concurrency import run_in_threadpool

from api.auth import Principal, require
from api.deps import SessionsDep
from api.documents import PDF_MEDIA_TYPE, packing_slip_pdf
from api.problems import ProblemError
from domain.enums import Role
from store import catalog, projection

router = APIRouter(tags=["warehouse"])
WarehouseRole = Annotated[Principal, Depends(require(Role.WAREHOUSE))]


def _packing_slip(sessions: projection.SessionFactory, shipment_id: str) -> bytes | None:
    shipment = projection.shipment_by_id(sessions, shipment_id)
    if shipment is None:
        return None
    order = projection.get_order(sessions, shipment.order_id)
    names: dict[str, str] = {}
    for line in shipment.lines:
        item = catalog.get_catalog_item(sessions, line.sku)
        if item is not None:
            names[line.sku] = item.name
    return packing_slip_pdf(shipment, order.shipping_address if order else None, names)


@router.get(
    "/shipments/{shipment_id}/packing-slip",
    response_class=Response,
    responses={
        200: {"content": {PDF_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
              "description": "The packing slip (PDF): parcel, order, carrier, ship-to address and lines."},
        404: {"description": "Unknown shipment"},
    },
)
async def packing_slip(shipment_id: str, _: WarehouseRole, sessions: SessionsDep) -> Response:
    """The packing slip of a parcel, to print and put in the box (warehouse and ops)."""
    pdf = await run_in_threadpool(_packing_slip, sessions, shipment_id)
    if pdf is None:
        raise ProblemError(404, f"no shipment {shipment_id}")
    return Response(
        pdf,
        media_type=PDF_MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="packing-slip-{shipment_id}.pdf"'},
    )
