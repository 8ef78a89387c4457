"""`/redaction/statistiques` (editors): the figures of a period as tables, SVG plots and CSV files,
and the yearly report as a PDF. Figures: parentalites/statistics/figures.py; the report: report.py."""
from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import lazy_gettext as _l

from accounts.auth import editor_required
from core.db import session, utcnow
from core.formatting import PARIS
from parentalites.statistics import charts, figures, report
from parentalites.statistics.period import MAX_YEAR, MIN_YEAR, parse_period
from parentalites.statistics.tables import csv_text, format_figure

statistics_bp = Blueprint("statistics", __name__, url_prefix="/redaction/statistiques")

PROBLEMS = {  # period.parse_period's notices, translated here
    "Date de début illisible (attendu : AAAA-MM-JJ), remplacée par le 1er janvier.":
        _l("Date de début illisible (attendu : AAAA-MM-JJ), remplacée par le 1er janvier."),
    "Date de fin illisible (attendu : AAAA-MM-JJ), remplacée par le 31 décembre.":
        _l("Date de fin illisible (attendu : AAAA-MM-JJ), remplacée par le 31 décembre."),
    "La date de début suivait la date de fin : elles ont été inversées.":
        _l("La date de début suivait la date de fin : elles ont été inversées."),
    "La période est limitée à dix ans : la fin a été rapprochée.":
        _l("La période est limitée à dix ans : la fin a été rapprochée."),
}


statistics_bp.add_app_template_filter(format_figure, "format_figure")


def today() -> date:
    return utcnow().astimezone(PARIS).date()


@statistics_bp.app_context_processor
def current_year() -> dict:
    return {"today_year": lambda: today().year}


def _period():
    return parse_period(request.args, today())


@statistics_bp.route("/")
@editor_required
def index():
    period = _period()
    return render_template("statistics/index.html", period=period,
                           problems=[PROBLEMS.get(p, p) for p in period.problems],
                           sections=figures.sections(session(), period))


def _table_or_404(key: str):
    if len(key) > 40:
        abort(404)
    period = _period()
    table = figures.one_table(session(), period, key)
    if table is None:
        abort(404)
    return period, table


@statistics_bp.route("/<key>.csv")
@editor_required
def table_csv(key: str):
    period, table = _table_or_404(key)
    name = f"{key}_{period.first.isoformat()}_{period.last.isoformat()}.csv"
    return Response(csv_text(table), mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@statistics_bp.route("/<key>.svg")
@editor_required
def table_svg(key: str):
    _, table = _table_or_404(key)
    if not table.has_chart:
        abort(404)
    width = request.args.get("largeur", type=int)
    # A picture: its own strict policy (it carries no script, and runs none as an <img>).
    return Response(charts.svg(table, width if width in charts.WIDTHS else charts.WIDTHS[-1]),
                    mimetype="image/svg+xml",
                    headers={"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
                             "Cache-Control": "private, max-age=300"})


@statistics_bp.route("/bilan/<int:year>.pdf")
@editor_required
def bilan(year: int):
    if not MIN_YEAR <= year <= MAX_YEAR:
        abort(404)
    pdf = report.bilan_pdf(session(), year)
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="bilan-{year}.pdf"'})
