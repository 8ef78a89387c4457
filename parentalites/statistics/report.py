"""The yearly report (bilan d'activité) the network sends the CAF: the indicators of the
departmental plan (seed 001: exchange meetings by type, growth of the partnerships; seed 002: the
soirées, the journée, the letters), then every table and plot of the statistics page for the year,
laid out for A4 by WeasyPrint. Rendered from a template, in a request context (the web route has
one; the CLI makes one)."""
from __future__ import annotations

import base64
from dataclasses import dataclass, replace

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from newsletter.models import Issue, IssueKind
from parentalites.statistics import charts, figures
from parentalites.statistics.period import Period, year_period
from parentalites.statistics.tables import Table

LETTERS_A_YEAR = 3  # seed 002: « trois lettres par an »
CHART_WIDTH = 700
PDF_EVENT_ROWS = 40  # events listed one by one in the PDF (see capped_events)


@dataclass
class Bilan:
    year: int
    period: Period
    indicators: Table
    sections: list[figures.Section]


def _issues_sent(db: Session, period: Period, kind: IssueKind) -> int:
    return db.scalar(select(func.count()).where(figures._sent_in(period), Issue.kind == kind)) or 0


def _percent(before: int, after: int) -> str:
    if not before:
        return "—"
    return f"{(after - before) * 100 / before:+.0f} %".replace(".", ",")


def indicators(db: Session, period: Period, sections: list[figures.Section]) -> Table:
    tables = {table.key: table for section in sections for table in section.tables}
    letters, delivered, reached = figures.letters_reach(db, period)
    months = tables["abonnes_par_mois"].rows
    by_type = {row[0]: row for row in tables["evenements_par_type"].rows}
    labels = figures.event_type_labels()
    partners = tables["partenaires"].rows
    before = (partners[0][1] - partners[0][2]) if partners else 0
    after = partners[-1][1] if partners else 0
    contributing = db.scalar(select(func.count(func.distinct(figures.Contribution.structure_id)))
                             .where(figures._submitted_in(period))) or 0
    meetings = sum(row[1] for row in tables["evenements_par_type"].rows)
    rows: list[list] = [
        [_("Lettres Parentalités envoyées (objectif : %(n)s par an)", n=LETTERS_A_YEAR), letters],
        [_("Messages de lettres remis"), delivered],
        [_("Abonnés atteints par au moins une lettre"), reached],
        [_("Invitations aux événements envoyées"), _issues_sent(db, period, IssueKind.invitation)],
        [_("Abonnés actifs au %(date)s", date=period.last.strftime("%d/%m/%Y")), months[-1][1] if months else 0],
        [_("Nouvelles inscriptions"), sum(r[2] for r in months)],
        [_("Désabonnements"), sum(r[3] for r in months)],
        [_("Rencontres d'échange tenues (tous types)"), meetings],
    ]
    for key in ("soiree_reaap", "journee_porteurs", "rencontre_clas", "formation", "autre"):
        row = by_type.get(labels[key])
        rows.append([_("— dont %(type)s : rencontres / présents", type=labels[key]),
                     f"{row[1] if row else 0} / {row[3] if row else 0}"])
    rows += [
        [_("Structures partenaires au début de l'année"), before],
        [_("Structures partenaires en fin d'année"), after],
        [_("Nouvelles structures partenaires"), after - before],
        [_("Évolution des partenariats"), _percent(before, after)],
        [_("Structures qui ont proposé au moins une contribution"), contributing],
        [_("Fiches action ajoutées"), sum(r[1] for r in tables["fiches_action"].rows)],
    ]
    return Table("indicateurs", _("Indicateurs de l'année %(year)s", year=period.first.year),
                 _("Les indicateurs de réalisation et d'effets du schéma départemental : rencontres d'échange "
                   "par type, développement des partenariats, soirées, journée et lettres."),
                 [_("Indicateur"), _("Valeur")], rows, chart="none")


def capped_events(table: Table, limit: int = PDF_EVENT_ROWS) -> Table:
    """The per-event table for print: its first `limit` events, then one row adding up the others.
    Two hundred events made ten pages and a third of the PDF's time; the page and its CSV keep
    every event, and the per-type table every total."""
    if len(table.rows) <= limit:
        return table
    rest = table.rows[limit:]
    total = [_("Autres événements (%(n)s)", n=len(rest)), ""] + [sum(row[c] for row in rest) for c in (2, 3, 4)]
    summary = table.summary + " " + _("Les %(n)s premiers sont détaillés ici, les autres sont additionnés ; "
                                      "la page des statistiques et son fichier CSV les détaillent tous.", n=limit)
    return replace(table, summary=summary, rows=table.rows[:limit] + [total])


def bilan(db: Session, year: int) -> Bilan:
    period = year_period(year)
    sections = figures.sections(db, period)
    for section in sections:
        section.tables = [capped_events(t) if t.key == "evenements" else t for t in section.tables]
    return Bilan(year, period, indicators(db, period, sections), sections)


def plot_image(table: Table) -> str:
    """The plot as an <img> with the SVG inlined as a data: URL (its styles stay its own)."""
    svg = charts.svg(table, width=CHART_WIDTH)
    data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
    return f'<img src="data:image/svg+xml;base64,{data}" alt="">'


def bilan_html(db: Session, year: int) -> str:
    return render_template("statistics/bilan.html", bilan=bilan(db, year), plot_image=plot_image)


def bilan_pdf(db: Session, year: int) -> bytes:
    from weasyprint import HTML  # imported when a PDF is made: it loads Pango and its fonts
    return HTML(string=bilan_html(db, year)).write_pdf()
