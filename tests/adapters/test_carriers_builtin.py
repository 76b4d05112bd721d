"""BuiltinCarriers: deterministic quotes and idempotent labels."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from adapters.carriers.builtin import BuiltinCarriers, tracking_number_for
from domain.enums import ShipmentStatus, ShippingSpeed
from domain.errors import LabelNotCancellable, UndeliverableAddress
from domain.models import Address, LabelRequest, ShipmentView
from store.models import CarrierLabelRow
from store.projection import record_shipment

SF = sessionmaker[Session]
TODAY = date(2026, 3, 2)


def address(postal_code: str = "310000", region: str = "ZJ") -> Address:
    return Address(
        name="Li Lei",
        line1="1 Road",
        city="Hangzhou",
        region=region,
        postal_code=postal_code,
        country="CN",
    )


def request(
    carriers: BuiltinCarriers,
    key: str = "label:ORD-1-P1:1",
    postal_code: str = "310000",
) -> LabelRequest:
    quote = carriers.quotes("east", address(), 700, ShippingSpeed.EXPRESS, TODAY)[0]
    return LabelRequest(
        shipment_id="ORD-1-P1",
        idempotency_key=key,
        quote=quote,
        origin_region="east",
        destination=address(postal_code),
        weight_grams=700,
    )


def test_quotes_follow_the_rate_cards(session_factory: SF) -> None:
    carriers = BuiltinCarriers(session_factory)
    same_region = carriers.quotes("east", address(), 700, ShippingSpeed.STANDARD, TODAY)
    assert {q.carrier: q.price for q in same_region} == {
        "economy": Decimal("8.00"),
        "swift": Decimal("15.00"),
    }
    far = carriers.quotes(
        "east", address(region="SC"), 700, ShippingSpeed.STANDARD, TODAY
    )
    assert all(f.price > n.price for f, n in zip(far, same_region, strict=True))
    overnight = carriers.quotes("east", address(), 700, ShippingSpeed.OVERNIGHT, TODAY)
    assert [q.carrier for q in overnight] == ["swift"]
    assert overnight[0].promised_by == date(2026, 3, 3)


def test_label_is_idempotent_by_key_and_tracking_is_deterministic(
    session_factory: SF,
) -> None:
    carriers = BuiltinCarriers(session_factory)
    req = request(carriers)
    label = carriers.buy_label(req)
    assert carriers.buy_label(req) == label
    prefix = {"swift": "SW", "economy": "EC"}[label.carrier]
    assert label.tracking_number == tracking_number_for(
        label.carrier, req.idempotency_key
    )
    assert label.tracking_number.startswith(prefix) and len(label.tracking_number) == 12
    assert label.tracking_number[2:].isdigit()
    other = carriers.buy_label(request(carriers, key="label:ORD-1-P1:2"))
    assert other.tracking_number != label.tracking_number
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(CarrierLabelRow)) == 2
    assert carriers.shipment_of(label.carrier, label.tracking_number) == "ORD-1-P1"
    assert carriers.shipment_of(label.carrier, "SW0000000000") is None


def test_undeliverable_postal_code_is_refused(session_factory: SF) -> None:
    carriers = BuiltinCarriers(session_factory)
    with pytest.raises(UndeliverableAddress):
        carriers.buy_label(request(carriers, postal_code="000000"))
    with session_factory() as s:
        assert s.scalar(select(func.count()).select_from(CarrierLabelRow)) == 0


def test_cancel_label_is_idempotent_until_handover(session_factory: SF) -> None:
    carriers = BuiltinCarriers(session_factory)
    label = carriers.buy_label(request(carriers))
    assert carriers.cancel_label(label.label_id) is True
    assert carriers.cancel_label(label.label_id) is True
    assert carriers.cancel_label("lbl_unknown") is False

    handed = carriers.buy_label(request(carriers, key="label:ORD-1-P1:9"))
    record_shipment(
        session_factory,
        ShipmentView(
            shipment_id="ORD-1-P1",
            order_id="ORD-1",
            warehouse="WH-EAST",
            status=ShipmentStatus.IN_TRANSIT,
            carrier=handed.carrier,
            tracking_number=handed.tracking_number,
        ),
    )
    with pytest.raises(LabelNotCancellable):
        carriers.cancel_label(handed.label_id)
