"""The letter's design without a database (newsletter/letter_blocks.py, templates/email/letter):
blocks and « À la une » in their places, the table of contents, images before « En savoir plus »,
one horizontal padding, no hidden preheader."""
from __future__ import annotations

import re
from datetime import date
from types import SimpleNamespace as N

import lxml.html

from mailing.templates import render_email
from newsletter.letter_blocks import BlockKind, letter_context

STRUCTURE = N(name="Centre social Les Tilleuls", commune="Bobigny")


def contribution(id, title, **extra):
    image = N(kind="image", id=100 + id, alt_text=f"Photo de {title}", width=800, height=400)
    fields = dict(id=id, title=title, body_md=f"Texte de {title}.", structure=STRUCTURE, event_start=None,
                  event_end=None, place=None, deadline=None, kind=N(value="actualite"), fiche=None, files=[image],
                  link="https://exemple.org/plus", audience=None, contact=None)
    return N(**{**fields, **extra})


def block(id, kind, placement="top", **extra):
    fields = dict(id=id, kind=kind, placement=placement, position=id, title="", body_md="", label="", url="",
                  alt_text="", image_version=None, image_width=None, contribution=None)
    return N(**{**fields, **extra})


def letter():
    first, second, third = contribution(1, "Atelier goûter"), contribution(2, "Soutien scolaire"), \
        contribution(3, "Café des parents")
    items = {"actualites": [N(contribution=first, contribution_id=1), N(contribution=third, contribution_id=3)],
             "clas": [N(contribution=second, contribution_id=2)]}
    labels = {"actualites": "Actualités du réseau", "clas": "Accompagnement à la scolarité (CLAS)"}
    blocks = [
        block(1, BlockKind.featured, contribution=third),
        block(2, BlockKind.text, "top", title="Le mot du réseau",
              body_md="Bonjour <script>alert(1)</script> [x](javascript:alert(2)) **à tous**"),
        block(3, BlockKind.button, "clas", label="S'inscrire", url="https://exemple.org/inscription"),
        block(4, BlockKind.button, "bottom", label="Piège", url="javascript:alert(3)"),
        block(5, BlockKind.text, "ressources", body_md="Une ressource sans contribution."),
        block(6, BlockKind.banner, "bottom", alt_text="Bannière de fin", image_version="abcd", image_width=600,
              image_path="/lettres/images/6-abcd.jpg"),
    ]
    issue = N(numero=7, title="Lettre d'hiver", issue_date=date(2026, 12, 1), edito_md="Un édito.", blocks=blocks,
              items_by_rubrique=lambda: [(slug, labels[slug], items[slug]) for slug in ("actualites", "clas")])
    return issue


def render(issue):
    context = {"issue": issue, "sections": issue.items_by_rubrique(), **letter_context(issue),
               "greeting": "Bonjour,", "web_url": "https://exemple.org/lettres/7/",
               "unsubscribe_url": "%%unsubscribe_url%%", "preferences_url": "%%preferences_url%%"}
    return render_email("letter", context)


def test_the_context_places_blocks_and_shows_the_featured_contribution_once():
    context = letter_context(letter())
    assert context["featured"].title == "Café des parents"
    assert [(slug, [i.contribution.title for i in items]) for slug, _, items in context["sections"]] == [
        ("actualites", ["Atelier goûter"]), ("clas", ["Soutien scolaire"]), ("ressources", [])]
    assert context["toc"] == [("a-la-une", "À la une"), ("edito", "Édito"),
                              ("rubrique-actualites", "Actualités du réseau"),
                              ("rubrique-clas", "Accompagnement à la scolarité (CLAS)"),
                              ("rubrique-ressources", "Ressources et publications")]
    assert [b.id for b in context["blocks_at"]["bottom"]] == [4, 6]


def test_the_letter_has_its_table_of_contents_blocks_and_no_hidden_text():
    rendered = render(letter())
    html, text = rendered.html, rendered.text
    tree = lxml.html.document_fromstring(html)
    # Every entry of the table of contents leads to a heading of the letter.
    anchors = tree.xpath("//a[starts-with(@href, '#')]/@href")
    assert anchors == ["#a-la-une", "#edito", "#rubrique-actualites", "#rubrique-clas", "#rubrique-ressources"]
    for anchor in anchors:
        assert tree.xpath(f"//*[@id='{anchor[1:]}']"), anchor
    assert html.count(">Café des parents</h3>") == 1  # featured, not repeated in its rubrique
    # Hostile text is text; a javascript: button is not shown at all.
    assert not tree.xpath("//script") and "javascript:" not in " ".join(tree.xpath("//@href"))
    assert "<strong>à tous</strong>" in html and "Piège" not in html and "Piège" not in text
    assert 'href="https://exemple.org/inscription"' in html and "S'inscrire : https://exemple.org/inscription" in text
    assert 'alt="Bannière de fin"' in html and "[Image : Bannière de fin]" in text
    # No hidden preheader (HTML_FONT_LOW_CONTRAST): no text hidden, in a 1px font or in white on white.
    for element in tree.xpath("//*[@style]"):
        style = element.get("style").replace(" ", "").lower()
        if (element.text or "").strip():  # its own text (MJML sets font-size:0 on wrappers)
            assert not re.search(r"display:none|font-size:[01]px|max-height:0|opacity:0", style), style
            assert not ("color:#ffffff" in style or "color:#fff;" in style) or "background" in style or \
                element.xpath("ancestor::*[contains(@style, 'background')][1]"), style
    # One horizontal padding (24px, the content's), never MJML's 25px inside a padded section.
    assert "25px" not in html
    for style in tree.xpath("//td/@style"):
        assert not re.search(r"padding:\s*\d+px (2[0-9]|[3-9][0-9])px", style) or "24px" in style, style


def test_images_come_before_the_links_of_a_contribution():
    html = render(letter()).html
    start = html.index(">Atelier goûter</h3>")
    image, more = html.index('alt="Photo de Atelier goûter"', start), html.index("En savoir plus", start)
    assert image < more
    text = render(letter()).text
    start = text.index("* Atelier goûter")
    assert text.index("[Image : Photo de Atelier goûter]", start) < text.index("En savoir plus : https://", start)


def test_spamassassin_finds_no_low_contrast_text_in_the_letter():
    """HTML_FONT_LOW_CONTRAST fired on every letter (MJML's hidden preheader). Debian's spamassassin,
    offline rules only (-L); skipped where it is not installed."""
    import shutil
    import subprocess

    import pytest

    from mailing.mime import build_message
    if not shutil.which("spamassassin"):
        pytest.skip("spamassassin is not installed (apt-get install spamassassin)")
    rendered = render(letter())
    raw = build_message(to="zoe@example.org", subject=rendered.subject, text=rendered.text, html=rendered.html,
                        message_id="<lettre.7.test@parentalites.test>")
    report = subprocess.run(["spamassassin", "-L", "-t"], input=raw, capture_output=True, timeout=120).stdout
    assert b"X-Spam-Status" in report  # it did check the message
    assert b"HTML_FONT_LOW_CONTRAST" not in report
