"""Printable documents: the packing slip of a parcel (PDF, reportlab).

Pure: the caller reads the shipment, the ship-to address and the catalog names; this module only
lays them out. Latin text is set in Helvetica; any other script (Chinese names and addresses) in
reportlab's built-in CID font STSong-Light, which PDF viewers supply from their Asian font pack,
so no font file ships with Orderflow.
"""

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.graphics.barcode import code128
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import (
    Flowable,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from domain.models import Address, ShipmentView

FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
PDF_MEDIA_TYPE = "application/pdf"
# Helvetica's WinAnsi encoding covers Latin-1; everything past it goes to the CID font.
_RUNS = re.compile(r"([\x00-\xff]+)|([^\x00-\xff]+)")

_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def _styles() -> dict[str, ParagraphStyle]:
    _font()
    # wordWrap="CJK" breaks lines between any two characters: Chinese has no spaces.
    base = ParagraphStyle("base", fontName=LATIN_FONT, fontSize=10, leading=14, wordWrap="CJK")
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontSize=18, leading=24),
        "label": ParagraphStyle("label", parent=base, fontSize=8, leading=11, textColor=colors.grey),
        "cell": ParagraphStyle("cell", parent=base, fontSize=10, leading=13),
        "head": ParagraphStyle("head", parent=base, fontSize=9, leading=12, textColor=colors.white),
    }


def _markup(text: str) -> str:
    """Paragraph markup: escaped text, non-Latin runs switched to the CID font."""
    return "".join(
        escape(latin) if latin else f'<font face="{FONT}">{escape(other)}</font>'
        for latin, other in _RUNS.findall(text)
    )


def _p(text: object, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_markup(str(text)), style)


def _address_lines(address: Address | None) -> list[str]:
    if address is None:
        return ["(address unavailable)"]
    lines = [address.name, address.line1]
    if address.line2:
        lines.append(address.line2)
    lines.append(f"{address.city}, {address.region} {address.postal_code}")
    lines.append(address.country)
    if address.phone:
        lines.append(f"Tel {address.phone}")
    return lines


def packing_slip_pdf(
    shipment: ShipmentView,
    ship_to: Address | None,
    item_names: Mapping[str, str],
    *,
    generated_at: datetime | None = None,
) -> bytes:
    """One A4 page (more for long parcels) listing what goes in the box and where it goes.

    `item_names` maps SKUs to catalog names (a SKU missing from it prints without a name).
    """
    st = _styles()
    at = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    width = A4[0] - 36 * mm

    def field(label: str, value: object) -> list[Paragraph]:
        return [_p(label, st["label"]), _p(value if value not in (None, "") else "-", st["base"])]

    service = shipment.service.value if shipment.service is not None else None
    promised = shipment.promised_by.isoformat() if shipment.promised_by else None
    facts = Table(
        [
            field("Shipment 包裹", shipment.shipment_id) + field("Order 订单", shipment.order_id),
            field("Warehouse 仓库", shipment.warehouse) + field("Promised by 承诺送达", promised),
            field("Carrier 承运商", shipment.carrier) + field("Service 服务", service),
            field("Tracking 运单号", shipment.tracking_number) + field("Status 状态", shipment.status.value),
        ],
        colWidths=[30 * mm, width / 2 - 30 * mm, 34 * mm, width / 2 - 34 * mm],
        hAlign="LEFT",
    )
    facts.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 3)]))

    ship_to_box = Table(
        [[_p("Ship to 收货人", st["label"])]] + [[_p(line, st["base"])] for line in _address_lines(ship_to)],
        colWidths=[width],
        hAlign="LEFT",
    )
    ship_to_box.setStyle(
        TableStyle([("BOX", (0, 0), (-1, -1), 0.8, colors.black), ("LEFTPADDING", (0, 0), (-1, -1), 6)])
    )

    rows: list[list[Paragraph]] = [
        [_p("#", st["head"]), _p("SKU", st["head"]), _p("Item 商品", st["head"]), _p("Qty 数量", st["head"])]
    ]
    for n, line in enumerate(shipment.lines, start=1):
        rows.append(
            [
                _p(n, st["cell"]),
                _p(line.sku, st["cell"]),
                _p(item_names.get(line.sku, ""), st["cell"]),
                _p(line.quantity, st["cell"]),
            ]
        )
    rows.append([_p("", st["cell"]), _p("", st["cell"]), _p("Total 合计", st["cell"]),
                 _p(sum(line.quantity for line in shipment.lines), st["cell"])])
    lines = Table(rows, colWidths=[10 * mm, 45 * mm, width - 80 * mm, 25 * mm], repeatRows=1, hAlign="LEFT")
    lines.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#333333")),
                ("GRID", (0, 0), (-1, -2), 0.4, colors.grey),
                ("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )

    story: list[Flowable] = [
        _p("Packing slip 装箱单", st["title"]),
        Spacer(1, 2 * mm),
        code128.Code128(shipment.shipment_id, barHeight=12 * mm, barWidth=0.35 * mm, humanReadable=True),
        Spacer(1, 8 * mm),
        facts,
        Spacer(1, 5 * mm),
        ship_to_box,
        Spacer(1, 6 * mm),
        lines,
        Spacer(1, 8 * mm),
        _p(f"Orderflow · generated {at} · check every line before sealing the parcel 封箱前请逐项核对", st["label"]),
    ]
    out = BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"Packing slip {shipment.shipment_id}",
        author="Orderflow",
        subject=f"Order {shipment.order_id}",
    )
    doc.build(story)
    return out.getvalue()
