"""Rewrite docs/doctor.md's rules and remedies tables from the rules table (retroprop.doctor.table).

Run ``python docs/regenerate_tables.py`` after changing a row, a threshold or a remedy;
tests/doctor/test_table.py fails while the document and the table disagree.
"""

from __future__ import annotations

from pathlib import Path

from retroprop.doctor import diagnosis, table
from retroprop.files import write_text

DOC = Path(__file__).resolve().parent / "doctor.md"


def replace_table(lines: list[str], header: str, rows: list[str]) -> None:
    """Replace the rows under the Markdown table whose header line is ``header``."""
    start = lines.index(header) + 2  # the header, then its |---| line
    end = start
    while end < len(lines) and lines[end].startswith("| "):
        end += 1
    lines[start:end] = rows


def main() -> None:
    lines = DOC.read_text(encoding="utf-8").split("\n")
    replace_table(lines, "| problem | signal | threshold | window | why |", table.rules_markdown())
    replace_table(lines, "| problem | remedies |", table.remedies_markdown(diagnosis.REMEDIES))
    write_text(DOC, "\n".join(lines))


if __name__ == "__main__":
    main()
