"""A network event in the letter's Agenda as the three versions show it (templates/email/letter)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace as N

import pytest

from newsletter.agenda import AgendaEntry


def _context(full: bool, open_for_registration: bool = True) -> dict:
    entry = AgendaEntry(event_id=3, title="Soirée-rencontre : parents d'ados",
                        starts_at=datetime(2026, 12, 15, 17, tzinfo=UTC),
                        ends_at=datetime(2026, 12, 15, 19, tzinfo=UTC),
                        place="Maison des parents, Bobigny", organiser="Réaap 93", summary_md="On **échange**.",
                        register_url="https://parentalites.test/agenda/3/", full=full,
                        open_for_registration=open_for_registration)
    issue = N(numero=5, issue_date=date(2026, 12, 1), title="Lettre de décembre", edito_md="")
    items = [N(event_id=3, agenda=entry, contribution=None)]
    return {"issue": issue, "sections": [("agenda", "Agenda", items)], "greeting": "Bonjour,",
            "web_url": "https://exemple.org/lettres/5/", "unsubscribe_url": "%%u%%", "preferences_url": "%%p%%",
            "neutral": False}


@pytest.mark.parametrize("full, link", [(False, "S'inscrire"), (True, "S'inscrire sur la liste d'attente")])
def test_the_text_part_shows_the_date_the_place_and_the_registration_link(full, link):
    from mailing.templates import render_email
    text = render_email("letter", _context(full)).text
    assert ("* Soirée-rencontre : parents d'ados\n  Réaap 93\n"
            "  Quand : mardi 15 décembre 2026, de 18 h à 20 h\n") in text
    assert "  Où : Maison des parents, Bobigny\n" in text
    assert f"\n  {link} : https://parentalites.test/agenda/3/\n" in text
    assert ("  Complet — liste d'attente\n" in text) is full
    assert "On échange." in text and "**" not in text


def test_the_html_part_says_complet_and_links_to_the_registration_page():
    from mailing.templates import render_email
    html = render_email("letter", _context(True)).html
    assert "Complet — liste d'attente" in html and 'href="https://parentalites.test/agenda/3/"' in html


def test_once_registration_is_closed_the_letter_links_to_the_event_only():
    from mailing.templates import render_email
    text = render_email("letter", _context(False, open_for_registration=False)).text
    assert "  Voir l'événement : https://parentalites.test/agenda/3/\n" in text and "S'inscrire" not in text
