"""Read the tables of docs/BAD_INPUT.md, which the bad-input tests check row by row."""

from __future__ import annotations

import re
from pathlib import Path

BAD_INPUT_DOC = Path(__file__).resolve().parents[1] / "docs" / "BAD_INPUT.md"
NOTHING = "—"  # a cell with no value (no error code, no message)


def table_rows(section: str) -> dict[str, list[str]]:
    """{case: the row's other cells} of the table under the `## section` heading; backticks are removed."""
    text = BAD_INPUT_DOC.read_text(encoding="utf-8")
    match = re.search(rf"^## {re.escape(section)}\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert match, f"{BAD_INPUT_DOC} has a '## {section}' section"
    rows: dict[str, list[str]] = {}
    for line in match.group(1).splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        if line.startswith("| `") and len(cells) >= 3:
            case = cells[0].strip("`")
            assert case not in rows, f"case {case} appears twice in {BAD_INPUT_DOC.name}"
            rows[case] = [cell.replace("`", "") for cell in cells[1:]]
    assert rows, f"the '## {section}' table has rows"
    return rows
