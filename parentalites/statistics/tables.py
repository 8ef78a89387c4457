"""A statistic as the page shows it: a title, a sentence that says what it shows, the table of its
figures (what the plot draws, and what a screen reader reads) and how to plot it. Its CSV is the
same table (UTF-8 with BOM, `;`, formulas defused, as the subscribers' export)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from numbers import Number

from markupsafe import Markup, escape

from subscribers.directory import defuse


@dataclass
class Table:
    key: str                 # names its CSV and its plot in URLs: letters [a-z_]
    title: str
    summary: str             # one or two sentences, shown above the table (and the plot's alt)
    columns: list[str]       # the first names the rows; the others are figures
    rows: list[list] = field(default_factory=list)
    chart: str = "bar"       # bar (grouped columns), line (a series over months), hbar, none
    chart_columns: list[int] | None = None  # which figure columns the plot draws (default: all)
    empty_text: str = ""     # said instead of a plot and a table when there is nothing to show

    @property
    def is_empty(self) -> bool:
        return not self.rows or all(not any(_number(v) for v in row[1:]) for row in self.rows)

    @property
    def has_chart(self) -> bool:
        return self.chart != "none" and not self.is_empty

    def body_html(self) -> Markup:
        """The rows of the table's <tbody>, every cell escaped: the first names the row (<th>), the
        others are figures written the French way, labelled for the narrow screens' stacked layout.
        Made here rather than by a Jinja loop: the page has a thousand cells and the loop took a
        fifth of its time."""
        labels = [f' data-label="{escape(column)}"' for column in self.columns]
        parts = []
        for row in self.rows:
            parts.append(f'<tr><th scope="row">{escape(row[0])}</th>')
            for index, cell in enumerate(row[1:], 1):
                numeric = ' class="num"' if isinstance(cell, Number) else ""
                parts.append(f"<td{labels[index]}{numeric}>{escape(format_figure(cell))}</td>")
            parts.append("</tr>")
        return Markup("".join(parts))


def format_figure(value) -> str:
    """A figure as French writes it: 12 345 and 3,5 (a narrow no-break space, a decimal comma)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    text = f"{value:,.1f}" if isinstance(value, float) and not value.is_integer() else f"{int(value):,d}"
    return text.replace(",", "\u202f").replace(".", ",")


def _number(value) -> float:
    return value if isinstance(value, int | float) else 0


def csv_text(table: Table) -> str:
    """The table as a spreadsheet opens it: BOM, `;`, CRLF, every cell defused."""
    buffer = io.StringIO()
    buffer.write("\ufeff")
    writer = csv.writer(buffer, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([defuse(c) for c in table.columns])
    for row in table.rows:
        # A decimal comma: the `;` file is for spreadsheets set to French, which read 4.5 as text.
        writer.writerow([defuse(str(cell).replace(".", ",") if isinstance(cell, float) else cell) for cell in row])
    return buffer.getvalue()


def top_with_rest(pairs: list[tuple[str, int]], limit: int, rest_label: str) -> list[list]:
    """The `limit` largest (label, count) pairs, then one row adding up the others."""
    ordered = sorted(pairs, key=lambda p: (-p[1], p[0]))
    rows = [[label, count] for label, count in ordered[:limit]]
    rest = sum(count for _, count in ordered[limit:])
    if rest:
        rows.append([rest_label, rest])
    return rows


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
