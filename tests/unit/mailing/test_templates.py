"""E-mail templates (mailing/templates.py): MJML compilation errors say where."""
from __future__ import annotations

import pytest

from mailing.templates import MJMLError, compile_mjml


def test_invalid_mjml_gives_a_clear_error():
    with pytest.raises(MJMLError, match="MJML invalide dans essai.mjml"):
        compile_mjml("<mjml><mj-body><mj-section>", "essai.mjml")


def _letter_context():
    """A letter of two items made of plain objects: what templates/email/letter reads."""
    from datetime import UTC, date, datetime
    from types import SimpleNamespace as N
    structure = N(name="Centre social Les Tilleuls", commune="Bobigny")

    def contribution(title, body, **extra):
        fields = dict(id=1, title=title, body_md=body, structure=structure, event_start=None, event_end=None,
                      place=None, deadline=None, kind=N(value="actualite"), fiche=None, files=[], link=None,
                      audience=None, contact=None)
        return N(**{**fields, **extra})
    items = [
        N(contribution=contribution("Atelier goûter", "Un **goûter** partagé.\n\nDeuxième paragraphe.",
                                    link="https://exemple.org/a")),
        N(contribution=contribution("Soirée débat", "On parle des écrans.", place="Salle des fêtes",
                                    event_start=datetime(2026, 3, 3, 17, tzinfo=UTC),
                                    event_end=datetime(2026, 3, 3, 19, tzinfo=UTC), deadline=date(2026, 12, 1))),
    ]
    issue = N(numero=4, issue_date=date(2026, 12, 1), title="Lettre d'hiver",
              edito_md="Chers **partenaires**,\n\nVoici la [lettre](https://exemple.org/l).\n\n- un\n- deux")
    return {"issue": issue, "sections": [("actualites", "Actualités", items)], "greeting": "Bonjour Zoé,",
            "web_url": "https://exemple.org/lettres/4/", "unsubscribe_url": "%%unsubscribe_url%%",
            "preferences_url": "%%preferences_url%%", "neutral": False}


def test_the_text_part_of_the_letter_reads_as_text():
    """Issue 13, item 26: the édito as text (not raw Markdown), one thing a line, paragraphs and
    items apart, French dates."""
    from mailing.templates import render_email
    text = render_email("letter", _letter_context()).text
    assert "**" not in text and "[lettre]" not in text
    assert "ÉDITO\n\nChers partenaires,\n\nVoici la lettre (https://exemple.org/l).\n\n- un\n- deux\n" in text
    assert "N°4 — 1er décembre 2026" in text
    assert "Un goûter partagé.\n\nDeuxième paragraphe.\n\n  En savoir plus : https://exemple.org/a\n" in text
    assert ("  Centre social Les Tilleuls (Bobigny)\n  Quand : mardi 3 mars 2026, de 18 h à 20 h\n"
            "  Où : Salle des fêtes\n  Date limite de réponse : 1er décembre 2026\n\nOn parle des écrans.\n") in text
    assert "\n\n\n" not in text
    assert "On parle des écrans.\n\n-- \n" in text
