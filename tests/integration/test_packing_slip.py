"""The packing slip: a PDF of the parcel for the warehouse, Chinese text included."""

import io

import httpx
import pypdf

from tests.conftest import CLIENT, OPS, WAREHOUSE
from tests.integration.helpers import new_sku, order_body, submit, wait_for_shipment


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


async def test_packing_slip_is_a_pdf_of_the_parcel(api: httpx.AsyncClient) -> None:
    sku = await new_sku(api, {"WH-EAST": 20})
    renamed = await api.put(
        f"/catalog/{sku}", headers=OPS, json={"name": "红色T恤 M码", "price": "99.00", "weight_grams": 400}
    )
    assert renamed.status_code == 200, renamed.text
    body = order_body(sku, quantity=3)
    body["shipping_address"] |= {"name": "李雷", "line1": "西湖区文三路100号", "city": "杭州", "region": "浙江"}
    order = await submit(api, body)
    shipment = await wait_for_shipment(api, order["order_id"], "picking")

    response = await api.get(f"/shipments/{shipment['shipment_id']}/packing-slip", headers=WAREHOUSE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")
    text = text_of(response.content)
    assert shipment["shipment_id"] in text
    assert order["order_id"] in text
    assert sku in text
    assert "WH-EAST" in text
    # Chinese text is set in the CID font and extracts back as the same characters.
    for chinese in ("李雷", "西湖区文三路100号", "杭州", "红色T恤"):
        assert chinese in text, chinese

    by_ops = await api.get(f"/shipments/{shipment['shipment_id']}/packing-slip", headers=OPS)
    assert by_ops.status_code == 200
    forbidden = await api.get(f"/shipments/{shipment['shipment_id']}/packing-slip", headers=CLIENT)
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"].startswith("application/problem+json")
    anonymous = await api.get(f"/shipments/{shipment['shipment_id']}/packing-slip")
    assert anonymous.status_code == 401


async def test_packing_slip_of_an_unknown_shipment_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/shipments/NO-SUCH-P1/packing-slip", headers=WAREHOUSE)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["status"] == 404
