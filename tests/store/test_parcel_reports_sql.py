"""Issue 19's report figures on a hand-made data set, every number worked out by hand: step times
from the parcel log (pick, pack, label, transit, delivery), breakdowns by warehouse, carrier,
channel and reason, exchanges apart from refund returns, inventory turns and stock-outs.

Orders and parcels live in April 2001 (one order just before the period must not count); stock
changes are rebuilt back from stock_levels now, with one change after the period.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from domain.reports import ChannelBreakdown, ParcelBreakdown, ParcelStep, StockOut, WarehouseTurns
from store import reports
from store.models import (
    CatalogItemRow,
    OrderRow,
    ShipmentEventRow,
    ShipmentRow,
    StockAdjustmentRow,
    StockLevelRow,
)

SF = sessionmaker[Session]
SINCE = datetime(2001, 4, 1, tzinfo=UTC)
UNTIL = datetime(2001, 4, 8, tzinfo=UTC)
DAY = 86400.0

# order: channel, status, created (day of April, hour), returns (reason, resolution), cancellation reason
ORDERS: dict[str, dict[str, Any]] = {
    "A1": {"channel": "web", "status": "delivered", "created": (1, 10), "returns": [], "reason": None},
    "A2": {"channel": "web", "status": "closed", "created": (1, 11), "returns": [("damaged", "exchange")],
           "reason": None},
    "A3": {"channel": "marketplace", "status": "returning", "created": (2, 9),
           "returns": [("no_longer_needed", "refund"), ("wrong_item", "claim")], "reason": None},
    "A4": {"channel": "marketplace", "status": "cancelled", "created": (2, 12), "returns": [],
           "reason": "rejected on review: looks like fraud"},
    "A5": {"channel": "social", "status": "cancelled", "created": (3, 8), "returns": [],
           "reason": "customer request"},
    "A6": {"channel": "app", "status": "shipped", "created": (3, 9), "returns": [], "reason": None},
    "BEFORE": {"channel": "web", "status": "cancelled", "created": (0, 0), "returns": [("damaged", "exchange")],
               "reason": "customer request"},
}
# parcel: order, warehouse, carrier, current status, log as (seconds after the order's creation, status, event)
PARCELS: dict[str, dict[str, Any]] = {
    "A1-P1": {"order": "A1", "warehouse": "WH-EAST", "carrier": "sf", "status": "delivered", "log": [
        (0, "picking", "pick task sent to the warehouse"), (600, "packed", "picked by p1"),
        (900, "label_created", "sf standard 8.00"), (4500, "in_transit", "in_transit"),
        (90900, "out_for_delivery", "out_for_delivery"), (94500, "delivered", "delivered")]},
    "A2-P1": {"order": "A2", "warehouse": "WH-EAST", "carrier": "sf", "status": "delivered", "log": [
        (0, "picking", "pick task sent to the warehouse"), (1200, "packed", "picked by p1"),
        (1500, "label_created", "sf standard 8.00"), (3300, "in_transit", "in_transit"),
        (20000, "in_transit", "delayed, now due by 2001-04-05"),  # same status: no new stay
        (46500, "out_for_delivery", "out_for_delivery"), (53700, "delivered", "delivered")]},
    "A3-P1": {"order": "A3", "warehouse": "WH-WEST", "carrier": "yto", "status": "delivered", "log": [
        (0, "picking", "pick task sent to the warehouse"), (1800, "packed", "picked by p2"),
        (2400, "label_created", "yto express 12.00"), (4200, "in_transit", "in_transit"),
        (50000, "exception", "failed delivery attempt 1 of 3"),  # not a step
        (60000, "out_for_delivery", "out_for_delivery"), (61000, "delivered", "delivered")]},
    "A5-P1": {"order": "A5", "warehouse": "WH-WEST", "carrier": None, "status": "cancelled", "log": [
        (0, "picking", "pick task sent to the warehouse"), (300, "cancelled", "cancelled before hand-over")]},
    "A6-P1": {"order": "A6", "warehouse": "WH-EAST", "carrier": "yto", "status": "exception", "log": [
        (0, "picking", "pick task sent to the warehouse"), (300, "packed", "picked by p1"),
        (600, "label_created", "yto express 12.00"), (1000, "in_transit", "in_transit"),
        (5000, "exception", "carrier reports the parcel lost"),
        (5001, "exception", "held by ops"),  # an entry in exception that reports no issue
    ]},
    "A6-P2": {"order": "A6", "warehouse": "WH-EAST", "carrier": "yto", "status": "exception", "log": [
        (0, "picking", "pick task sent to the warehouse"), (600, "packed", "picked by p1"),
        (660, "label_created", "yto express 12.00"), (720, "in_transit", "in_transit"),
        (1000, "exception", "carrier exception: customs")]},
    "BEFORE-P1": {"order": "BEFORE", "warehouse": "WH-EAST", "carrier": "sf", "status": "exception", "log": [
        (0, "picking", "pick task sent to the warehouse"), (5, "packed", "picked by p9"),
        (10, "exception", "carrier reports the parcel damaged")]},
}


def _created(order_id: str) -> datetime:
    day, hour = ORDERS[order_id]["created"]
    return SINCE - timedelta(seconds=1) if day == 0 else datetime(2001, 4, day, hour, tzinfo=UTC)


def _at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2001, month, day, hour, tzinfo=UTC)


# (sku, warehouse, on_hand now, reserved now, adjustments as (at, delta, reason))
STOCK = [
    ("R-SKU-1", "WH-EAST", 8, 0, [
        (_at(3, 25), 10, "receipt"), (_at(4, 2), -4, "shipment"), (_at(4, 4), -6, "shipment"),
        (_at(4, 5), 10, "receipt"), (_at(4, 10), -2, "shipment")]),  # after the period
    ("R-SKU-2", "WH-EAST", 5, 5, []),  # never changed; all of it reserved: nothing available now
    ("R-SKU-1", "WH-WEST", 0, 0, [
        (datetime(2001, 3, 31, 12, tzinfo=UTC), 3, "receipt"), (_at(4, 3), -3, "shipment"),
        (_at(4, 3, 12), 1, "restock_cancelled_label"), (_at(4, 6), -1, "shipment")]),
]


def _step(step: str, parcels: int, p50: float, p90: float, mean: float) -> ParcelStep:
    return ParcelStep(step=step, parcels=parcels, p50_seconds=p50, p90_seconds=p90, mean_seconds=mean)


def _load(sf: SF) -> None:
    with sf.begin() as s:
        s.execute(delete(StockAdjustmentRow))
        s.execute(delete(StockLevelRow))
        for sku in ("R-SKU-1", "R-SKU-2"):
            s.add(CatalogItemRow(sku=sku, name=sku, price=Decimal("10.00")))
        s.flush()
        for sku, warehouse, on_hand, reserved, changes in STOCK:
            s.add(StockLevelRow(sku=sku, warehouse=warehouse, on_hand=on_hand, reserved=reserved))
            for at, delta, reason in changes:
                s.add(StockAdjustmentRow(sku=sku, warehouse=warehouse, delta_on_hand=delta, reason=reason,
                                         actor="test", detail={}, at=at))
        for order_id, o in ORDERS.items():
            created = _created(order_id)
            s.add(OrderRow(
                order_id=order_id, status=o["status"], customer_id=f"c-{order_id}", channel=o["channel"],
                total=Decimal("100.00"), created_at=created, updated_at=created, version=1,
                document={
                    "order_id": order_id,
                    "totals": {"items": "100.00", "shipping": "0.00", "refunded": "0.00", "grand_total": "100.00"},
                    "returns": [
                        {"rma_id": f"{order_id}-R{n}", "status": "requested", "reason": reason, "resolution": resolution}
                        for n, (reason, resolution) in enumerate(o["returns"], start=1)
                    ],
                    "cancellation_reason": o["reason"],
                },
            ))
        for shipment_id, p in PARCELS.items():
            created = _created(p["order"])
            last = created + timedelta(seconds=p["log"][-1][0])
            s.add(ShipmentRow(shipment_id=shipment_id, order_id=p["order"], warehouse=p["warehouse"],
                              status=p["status"], carrier=p["carrier"], document={"status": p["status"]},
                              updated_at=last))
            for version, (offset, status, event) in enumerate(p["log"], start=1):
                s.add(ShipmentEventRow(shipment_id=shipment_id, version=version, order_id=p["order"],
                                       at=created + timedelta(seconds=offset), status=status, event=event))


def test_parcel_steps_breakdowns_and_rates_of_a_known_data_set(session_factory: SF) -> None:
    _load(session_factory)
    report = reports.summary(session_factory, SINCE, UNTIL)

    # Stays per step, in seconds (A5's pick ended by its cancellation; A3's transit by its exception):
    #   pick      300 300 600 600 1200 1800       pack     60 300 300 300 600
    #   label     60 400 1800 1800 3600           transit  280 4000 43200 45800 86400
    #   delivery  1000 3600 7200
    # p90 interpolates at rank 0.9 * (n - 1): pick 4.5 -> 1200 + 0.5 * 600; transit 3.6 -> 45800 + 0.6 * 40600.
    assert report.parcel_steps == [
        ParcelStep(step="pick", parcels=6, p50_seconds=600.0, p90_seconds=1500.0, mean_seconds=800.0),
        ParcelStep(step="pack", parcels=5, p50_seconds=300.0, p90_seconds=480.0, mean_seconds=312.0),
        ParcelStep(step="label", parcels=5, p50_seconds=1800.0, p90_seconds=2880.0, mean_seconds=1532.0),
        ParcelStep(step="transit", parcels=5, p50_seconds=43200.0, p90_seconds=70160.0, mean_seconds=35936.0),
        ParcelStep(step="delivery", parcels=3, p50_seconds=3600.0, p90_seconds=6480.0, mean_seconds=3933.333),
    ]
    # The same stays per warehouse and per carrier (A5's parcel had no label: no carrier).
    assert report.parcel_steps_by_warehouse == {
        "WH-EAST": [_step("pick", 4, 600, 1020, 675), _step("pack", 4, 300, 300, 240),
                    _step("label", 4, 1100, 3060, 1465), _step("transit", 4, 23600, 73440, 33470),
                    _step("delivery", 2, 5400, 6840, 5400)],
        "WH-WEST": [_step("pick", 2, 1050, 1650, 1050), _step("pack", 1, 600, 600, 600),
                    _step("label", 1, 1800, 1800, 1800), _step("transit", 1, 45800, 45800, 45800),
                    _step("delivery", 1, 1000, 1000, 1000)],
    }
    assert report.parcel_steps_by_carrier == {
        "sf": [_step("pick", 2, 900, 1140, 900), _step("pack", 2, 300, 300, 300), _step("label", 2, 2700, 3420, 2700),
               _step("transit", 2, 64800, 82080, 64800), _step("delivery", 2, 5400, 6840, 5400)],
        "yto": [_step("pick", 3, 600, 1560, 900), _step("pack", 3, 300, 540, 320),
                _step("label", 3, 400, 1520, 753.333), _step("transit", 3, 4000, 37440, 16693.333),
                _step("delivery", 1, 1000, 1000, 1000)],
    }
    assert report.by_warehouse == [
        ParcelBreakdown(key="WH-EAST", parcels=4, delivered=2, cancelled=0, exceptions=2),
        ParcelBreakdown(key="WH-WEST", parcels=2, delivered=1, cancelled=1, exceptions=1),
    ]
    assert report.by_carrier == [  # A5's parcel had no label: no carrier
        ParcelBreakdown(key="sf", parcels=2, delivered=2, cancelled=0, exceptions=0),
        ParcelBreakdown(key="yto", parcels=3, delivered=1, cancelled=0, exceptions=3),
    ]
    assert report.channels == [
        ChannelBreakdown(channel="app", orders=1, cancelled=0, reached_delivery=0, returned=0, refund_returns=0,
                         exchanges=0),
        ChannelBreakdown(channel="marketplace", orders=2, cancelled=1, reached_delivery=1, returned=1,
                         refund_returns=1, exchanges=0),
        ChannelBreakdown(channel="social", orders=1, cancelled=1, reached_delivery=0, returned=0, refund_returns=0,
                         exchanges=0),
        ChannelBreakdown(channel="web", orders=2, cancelled=0, reached_delivery=2, returned=1, refund_returns=0,
                         exchanges=1),
    ]
    assert report.cancellations_by_reason == {"customer request": 1, "rejected on review": 1}
    assert report.returns_by_reason == {"damaged": 1, "no_longer_needed": 1}  # A3's claim take-back apart
    assert report.returns_by_resolution == {"claim": 1, "exchange": 1, "refund": 1}
    assert report.carrier_exceptions_by_issue == {"customs": 1, "delayed": 1, "failed_attempt": 1, "lost": 1}
    # Of the 3 orders that reached delivery (A1, A2, A3): A2 and A3 returned something, A2 for
    # an exchange, A3 for a refund (its claim take-back is neither).
    assert report.return_rate == 0.6667
    assert report.exchange_rate == 0.3333
    assert report.refund_return_rate == 0.3333
    assert report.cancellation_rate == 0.3333


def test_inventory_turns_and_stock_outs_of_a_known_data_set(session_factory: SF) -> None:
    _load(session_factory)
    inventory = reports.summary(session_factory, SINCE, UNTIL).inventory

    assert (inventory.period_start, inventory.period_end) == (SINCE, UNTIL)
    # On hand through the 7 days, rebuilt back from now (the change of 10 April undone first):
    #   R-SKU-1 WH-EAST  10 for 1 day, 6 for 2, 0 for 1, 10 for 3  = 52 unit-days
    #   R-SKU-2 WH-EAST  5 all along                                = 35 unit-days
    #   R-SKU-1 WH-WEST  3 for 2 days, 0 for 1/2, 1 for 2 1/2, 0 for 2 = 8.5 unit-days
    east, west = round(87 / 7, 4), round(8.5 / 7, 4)
    assert inventory.by_warehouse == [
        WarehouseTurns(warehouse="WH-EAST", units_shipped=10, average_on_hand=east, turns=round(10 / east, 4)),
        WarehouseTurns(warehouse="WH-WEST", units_shipped=3, average_on_hand=west, turns=round(3 / west, 4)),
    ]
    assert (east, west) == (12.4286, 1.2143)
    assert inventory.units_shipped == 13  # 4 + 6 in the east; 3 - 1 (a label cancelled) + 1 in the west
    assert inventory.average_on_hand == round(east + west, 4)
    assert inventory.turns == round(13 / (east + west), 4)
    assert inventory.stock_outs == [
        StockOut(sku="R-SKU-1", warehouse="WH-EAST", available_now=8, out_now=False, times=1, seconds_out=DAY),
        StockOut(sku="R-SKU-2", warehouse="WH-EAST", available_now=0, out_now=True, times=0, seconds_out=0.0),
        StockOut(sku="R-SKU-1", warehouse="WH-WEST", available_now=0, out_now=True, times=2,
                 seconds_out=2.5 * DAY),
    ]


def test_an_unbounded_period_starts_at_the_first_stock_change(session_factory: SF) -> None:
    _load(session_factory)
    report = reports.summary(session_factory, None, None)
    assert report.inventory.period_start == datetime(2001, 3, 25, tzinfo=UTC)
    assert report.inventory.units_shipped == 15  # the shipment of 10 April counts too
    assert report.cancellations_by_reason == {"customer request": 2, "rejected on review": 1}
    assert report.carrier_exceptions_by_issue["damaged"] == 1  # the order from before the period
