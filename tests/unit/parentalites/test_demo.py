"""What `parentalites demo` prints (issue 13, item 27): logins whole in an 80-column terminal, the
import summary in French."""
from __future__ import annotations

import io

from rich.console import Console

from parentalites import demo


def test_demo_logins_are_printed_whole_in_80_columns(monkeypatch, capsys):
    monkeypatch.setattr(demo, "console", Console(file=io.StringIO(), width=80))
    logins = {"Rédaction (administratrice)": ("claire.martin@reaap-seine-saint-denis.example.org",
                                              "demo-redaction-2026"),
              "Partenaire (centre social)": ("amina.benali@centre-social-les-tilleuls.example.org", "demo-partenaire")}
    demo.show_logins(logins, 9000)
    out = capsys.readouterr().out + demo.console.file.getvalue()
    assert "http://127.0.0.1:9000/connexion" in out
    for role, (email, password) in logins.items():
        [line] = [line for line in out.splitlines() if email in line]
        assert role in line and password in line and "…" not in line


def test_the_import_summary_is_french():
    from contributions.importer import Report, ReportLine
    report = Report([ReportLine("imported", "Un"), ReportLine("imported", "Deux"), ReportLine("skipped", "Trois")])
    assert report.summary_fr == "2 importées, 0 mise à jour, 1 ignorée, 0 inchangée"
