"""A table drawn as an SVG plot by pygal, on the server. The SVG carries no script (pygal's
tooltips are left out and its inline configuration script removed): it is a picture, and its
figures are in the table next to it."""
from __future__ import annotations

import re

import pygal
from pygal.style import Style

from parentalites.statistics.tables import Table

# The site's colours (static/style.css), dark enough on white for 3:1 between bars and background.
STYLE = Style(
    background="#ffffff", plot_background="#ffffff", foreground="#1a1a1a", foreground_strong="#1a1a1a",
    foreground_subtle="#595959", opacity=".9", opacity_hover=".9", transition="0s",
    colors=("#1d4e89", "#c0392b", "#2e7d32", "#8e44ad", "#b35900", "#00695c"),
    font_family="DejaVu Sans, Arial, sans-serif", title_font_size=18, label_font_size=13,
    major_label_font_size=13, legend_font_size=13, value_font_size=12, tooltip_font_size=12,
)
SCRIPT = re.compile(r"<script\b.*?</script>", re.S)
MAX_LABEL = 40


def _label(value: object) -> str:
    text = str(value)
    return text if len(text) <= MAX_LABEL else text[:MAX_LABEL - 1] + "…"


def _number(value) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


WIDTHS = (420, 800)  # a phone's plot (bigger text for its width), and the others'


def svg(table: Table, width: int = 800) -> str:
    """The plot of a table that has figures; "" for an empty one (the page says so instead)."""
    if not table.has_chart:
        return ""
    columns = table.chart_columns or list(range(1, len(table.columns)))
    common = dict(style=STYLE, js=[], disable_xml_declaration=True, width=width, print_values=False,
                  legend_at_bottom=True, show_legend=len(columns) > 1, truncate_legend=-1, margin=12)
    rows = table.rows
    if table.chart == "hbar":
        rows = rows[::-1]  # pygal draws the first bar at the bottom: the table's first row goes on top
    labels = [_label(row[0]) for row in rows]
    largest = max((_number(row[c]) for row in rows for c in columns), default=0)
    if largest < 8 and all(float(_number(row[c])).is_integer() for row in rows for c in columns):
        common["y_labels"] = list(range(0, int(largest) + 2))  # counts: no « 0.2 » on the axis
    if table.chart == "line":
        chart = pygal.Line(height=380, x_label_rotation=40, show_minor_x_labels=len(labels) <= 24,
                           x_labels_major_every=max(1, len(labels) // 12), dots_size=3, **common)
    elif table.chart == "hbar":
        chart = pygal.HorizontalBar(height=max(220, 60 + 28 * len(labels) * max(1, len(columns) // 2)), **common)
    else:
        crowded = len(labels) > 5 or max(len(label) for label in labels) * len(labels) > 60
        chart = pygal.Bar(height=380, x_label_rotation=25 if crowded else 0, truncate_label=-1, **common)
    chart.title = table.title
    chart.x_labels = labels
    for column in columns:
        chart.add(table.columns[column], [_number(row[column]) for row in rows])
    return SCRIPT.sub("", chart.render(is_unicode=True))
