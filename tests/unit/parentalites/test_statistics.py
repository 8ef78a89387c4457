"""The statistics' pure helpers: the period read from the query string, the CSV of a table, a
breakdown's « others », the median of the middle values, French figures, and the SVG plot."""
from __future__ import annotations

from datetime import date

from parentalites.statistics import charts
from parentalites.statistics.period import Period, parse_period, year_period
from parentalites.statistics.tables import Table, csv_text, format_figure, median, top_with_rest

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
