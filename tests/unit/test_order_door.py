"""The order's door (workflows/order/door.py) is the one place that changes the order: no other
module of workflows/order/ assigns to the order's fields or mutates its lists. (That the door
checks each move is in test_lifecycle_moves.py; that nothing changed for orders in flight is
the replay test.)"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "workflows" / "order"
_MUTATORS = {"append", "extend", "insert", "pop", "remove", "clear", "update", "add", "discard"}


def _is_order(expr: ast.expr) -> bool:
    """`order`, `self._order`, `state.order`, `self._state.order`, or anything reached from them."""
    text = ast.unparse(expr)
    head = text.split("[")[0]
    parts = head.split(".")
    return any(part in ("order", "_order") for part in parts)


def _changes_to_the_order(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        for target in targets:
            if isinstance(target, (ast.Attribute, ast.Subscript)) and _is_order(target.value):
                found.append(f"{node.lineno}: {ast.unparse(target)}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _MUTATORS
            and isinstance(node.func.value, ast.Attribute)
            and _is_order(node.func.value)
        ):
            found.append(f"{node.lineno}: {ast.unparse(node.func)}")
    return found


def test_only_the_door_changes_the_order() -> None:
    offenders = {
        path.name: found
        for path in sorted(PACKAGE.glob("*.py"))
        if path.name not in ("door.py", "state.py")
        and (found := _changes_to_the_order(ast.parse(path.read_text())))
    }
    assert not offenders


def test_the_check_sees_a_change_that_bypasses_the_door() -> None:
    bypass = ast.parse(
        "state.order.payment.status = x\n"
        "self._order.totals.refunded += amount\n"
        "order.shipments.append(view)\n"
        "self._state.order.shipments[0] = view\n"
    )
    assert len(_changes_to_the_order(bypass)) == 4
    assert not _changes_to_the_order(ast.parse("self._door.set_payment(x)\nself._orders = []\nstate.children.append(h)\n"))
