"""The statistics' pure helpers: the period read from the query string, the CSV of a table, a
breakdown's « others », the median of the middle values, French figures, and the SVG plot."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from parentalites.statistics import charts
from parentalites.statistics.period import Period, parse_period, year_period
from parentalites.statistics.tables import Table, csv_text, format_figure, median, top_with_rest
from subscribers.models import TOPICS

TODAY = date(2026, 12, 2)


def test_the_default_period_is_this_calendar_year():
    period = parse_period({}, TODAY)
    assert (period.first, period.last, period.problems) == (date(2026, 1, 1), date(2026, 12, 31), ())
    assert period.months() == [f"2026-{m:02d}" for m in range(1, 13)]
    assert period.args() == {"du": "2026-01-01", "au": "2026-12-31"}


def test_a_period_starts_and_ends_at_midnight_in_paris():
    period = Period(date(2026, 3, 29), date(2026, 3, 29))  # the night summer time starts
    assert period.start.isoformat() == "2026-03-29T00:00:00+01:00"
    assert period.end.isoformat() == "2026-03-30T00:00:00+02:00"
    assert period.months() == ["2026-03"]


def test_months_cross_a_year():
    assert Period(date(2025, 11, 15), date(2026, 2, 1)).months() == ["2025-11", "2025-12", "2026-01", "2026-02"]


def test_bad_dates_are_replaced_and_said():
    period = parse_period({"du": "hier", "au": "2026-02-30"}, TODAY)
    assert (period.first, period.last) == (date(2026, 1, 1), date(2026, 12, 31))
    assert len(period.problems) == 2 and "illisible" in period.problems[0]
    assert parse_period({"du": "1850-01-01"}, TODAY).problems  # out of range
    assert parse_period({"du": "x" * 2000}, TODAY).first == date(2026, 1, 1)


def test_reversed_dates_are_swapped_and_a_long_period_is_cut_to_ten_years():
    period = parse_period({"du": "2026-06-30", "au": "2026-01-01"}, TODAY)
    assert (period.first, period.last) == (date(2026, 1, 1), date(2026, 6, 30))
    assert "inversées" in period.problems[0]
    period = parse_period({"du": "2000-01-01", "au": "2099-12-31"}, TODAY)
    assert period.last == date(2009, 12, 31) and len(period.months()) == 120
    assert "dix ans" in period.problems[0]


def test_the_csv_has_a_bom_semicolons_and_no_formula():
    table = Table("t", "Titre", "", ["Structure", "Nombre"], [["=HYPERLINK(\"x\")", 3], ["Les « Tilleuls »; 93", 2]])
    text = csv_text(table)
    assert text.startswith("\ufeffStructure;Nombre\r\n")
    assert "'=HYPERLINK" in text and '"Les « Tilleuls »; 93";2' in text
    assert csv_text(Table("t", "T", "", ["Nature", "Jours"], [["Toutes", 4.5], ["-1", 3]])).endswith(
        "Toutes;4,5\r\n'-1;3\r\n")


def test_top_with_rest_keeps_the_largest_then_adds_up_the_others():
    pairs = [("b", 5), ("a", 5), ("c", 1), ("d", 2), ("e", 1)]
    assert top_with_rest(pairs, 2, "Autres") == [["a", 5], ["b", 5], ["Autres", 4]]
    assert top_with_rest(pairs[:2], 2, "Autres") == [["a", 5], ["b", 5]]


def test_median_of_the_middle_values():
    assert median([]) is None
    assert median([4.0]) == 4.0
    assert median([2.0, 6.0]) == 4.0


def test_an_empty_table_has_no_plot():
    assert Table("t", "T", "", ["Mois", "N"], []).is_empty
    zeros = Table("t", "T", "", ["Mois", "N"], [["2026-01", 0], ["2026-02", 0]])
    assert zeros.is_empty and not zeros.has_chart and charts.svg(zeros) == ""
    assert not Table("t", "T", "", ["Mois", "N"], [["2026-01", 1]], chart="none").has_chart


def test_figures_are_written_the_french_way():
    assert format_figure(123456) == "123\u202f456"
    assert format_figure(4.5) == "4,5" and format_figure(4.0) == "4"
    assert format_figure("") == "" and format_figure(None) == "" and format_figure("2 / 3") == "2 / 3"


def test_a_plot_is_an_svg_without_script():
    table = Table("abonnes", "Abonnés « actifs »", "", ["Mois", "Actifs", "Nouveaux"],
                  [["2026-01", 3, 1], ["2026-02", 4, 1]], chart="line")
    svg = charts.svg(table)
    assert svg.startswith("<svg") and "<script" not in svg
    assert "Abonnés « actifs »" in svg and "Nouveaux" in svg
    long_label = Table("x", "X", "", ["Structure", "N"], [["S" * 80, 2]], chart="hbar")
    assert "S" * 39 + "…" in charts.svg(long_label)


def test_a_year_period():
    assert year_period(2025) == Period(date(2025, 1, 1), date(2025, 12, 31))


def test_the_rows_are_escaped_and_written_the_french_way():
    table = Table("t", "T", "", ["Nom", "N <n>", "Délai"], [["<b>Café</b> & co", 12345, 4.5], ["Vide", "", None]])
    assert table.body_html() == (
        '<tr><th scope="row">&lt;b&gt;Café&lt;/b&gt; &amp; co</th><td data-label="N &lt;n&gt;" class="num">'
        '12\u202f345</td><td data-label="Délai" class="num">4,5</td></tr><tr><th scope="row">Vide</th>'
        '<td data-label="N &lt;n&gt;"></td><td data-label="Délai"></td></tr>')


def test_topics_are_read_from_the_stored_list():
    from parentalites.statistics.figures import ActiveBreakdown
    breakdown = ActiveBreakdown({}, {}, {}, 0, dict.fromkeys(TOPICS, 0))
    for text, count in [("[]", 2), (None, 1), ('["clas", "sante"]', 3), ('["petite_enfance"]', 4), ('["clas"]', 1)]:
        breakdown.add_topics(text, count)
    assert breakdown.no_topic == 3
    assert breakdown.by_topic == {**dict.fromkeys(TOPICS, 0), "clas": 4, "sante": 3, "petite_enfance": 4}


@pytest.fixture
def sqlite_db():
    """The statistics' queries on SQLite (the demo's database), in memory."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from parentalites.models import configure, metadata
    configure()
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def test_the_subscribers_figures_on_sqlite(sqlite_db):
    """SQLite has its own queries for the subscribers (no GROUPING SETS, no width_bucket): the same
    six people as the PostgreSQL test (tests/integration/parentalites/test_statistics.py)."""
    from parentalites.statistics import figures
    from subscribers.models import Subscriber, SubscriberStatus

    def at(month: int, day: int = 5, year: int = 2026) -> datetime:
        return datetime(year, month, day, 10, tzinfo=UTC)

    sqlite_db.add_all([
        Subscriber(email="a@x.fr", status=SubscriberStatus.active, created_at=at(3, year=2025),
                   confirmed_at=at(3, year=2025), topics=["clas", "sante"], role="referent_clas",
                   commune="Bobigny", departement="93"),
        Subscriber(email="b@x.fr", status=SubscriberStatus.active, created_at=at(2), confirmed_at=at(2),
                   topics=[], role="animateur", commune="Bobigny", departement="93"),
        Subscriber(email="c@x.fr", status=SubscriberStatus.active, created_at=at(3), confirmed_at=at(3),
                   topics=["clas"], commune="Montreuil", departement="93"),
        Subscriber(email="d@x.fr", status=SubscriberStatus.unsubscribed, created_at=at(1), confirmed_at=at(1),
                   unsubscribed_at=at(4), topics=["numerique"]),
        Subscriber(email="e@x.fr", status=SubscriberStatus.suppressed, created_at=at(6, year=2025),
                   confirmed_at=at(6, year=2025), suppressed_at=at(5), topics=[]),
        Subscriber(email="f@x.fr", status=SubscriberStatus.pending, created_at=at(6), topics=["clas"]),
    ])
    sqlite_db.commit()
    period = year_period(2026)
    months = figures.subscribers_by_month(sqlite_db, period).rows
    assert [r[1] for r in months] == [3, 4, 5, 4, 3, 3, 3, 3, 3, 3, 3, 3]
    assert [r[2] for r in months] == [1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert [r[3] for r in months] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert [r[4] for r in months] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    topics = dict(map(tuple, figures.subscribers_by_topic(sqlite_db, period).rows))
    assert topics["Tous les thèmes (aucun choisi)"] == 1
    assert topics["Accompagnement à la scolarité (CLAS)"] == 2 and topics["Santé"] == 1
    assert topics["Parents et écrans"] == 0  # d's topic, but d has left
    assert dict(map(tuple, figures.subscribers_by_role(sqlite_db, period).rows)) == {
        "Référent·e CLAS": 1, "Animateur·rice": 1, "Non renseignée": 1}
    assert figures.subscribers_by_commune(sqlite_db, period).rows == [["Bobigny", 2], ["Montreuil", 1]]
    assert figures.subscribers_by_departement(sqlite_db, period).rows == [["93", 3]]
