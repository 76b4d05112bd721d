"""docs/security.md is a claim about tests: each of the OWASP API Top 10 (2023) has its row, and every
test the document names exists, so a renamed or deleted test cannot leave the document promising it."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "security.md"

OWASP_API_TOP_10_2023 = {
    1: "Broken Object Level Authorization",
    2: "Broken Authentication",
    3: "Broken Object Property Level Authorization",
    4: "Unrestricted Resource Consumption",
    5: "Broken Function Level Authorization",
    6: "Unrestricted Access to Sensitive Business Flows",
    7: "Server Side Request Forgery",
    8: "Security Misconfiguration",
    9: "Improper Inventory Management",
    10: "Unsafe Consumption of APIs",
}

CITED = re.compile(r"`(tests/[\w/]+\.py)(?:::(\w+))?`")


def defined_test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test")
    }


def test_each_of_the_ten_risks_has_a_row_that_names_a_test() -> None:
    rows = [line for line in DOC.read_text(encoding="utf-8").splitlines() if re.match(r"\| API\d+:2023 ", line)]
    found = {}
    for row in rows:
        number, name = re.match(r"\| API(\d+):2023 ([^|]+?) \|", row).groups()  # type: ignore[union-attr]
        found[int(number)] = (name, row)
    assert {n: name for n, (name, _row) in found.items()} == OWASP_API_TOP_10_2023
    for number, (_name, row) in found.items():
        defence, tests = row.split("|")[2:4]
        assert len(defence.strip()) > 80, f"API{number}: say what defends against it"
        assert CITED.search(tests), f"API{number}: name the test that proves it"


def test_every_test_the_document_names_exists() -> None:
    missing = []
    citations = CITED.findall(DOC.read_text(encoding="utf-8"))
    assert len(citations) > 30
    for file, name in citations:
        path = ROOT / file
        if not path.is_file():
            missing.append(file)
        elif name and name not in defined_test_names(path):
            missing.append(f"{file}::{name}")
    assert missing == []
