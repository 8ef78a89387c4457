"""Hostile input: a list of XSS payloads, written into every Markdown field (and every plain text
field) of every kind of contribution, then read back through every output — the partner's pages,
the moderation pages, the form preview, the public letter pages, the compiled letter's HTML and
text parts. Outputs are parsed with an HTML parser: what matters is what a browser or a mail client
would build, not how the text looks.

Nothing may survive: no <script> (or iframe/object/embed/form/meta/base/svg/math…) element, no
on…= event handler, no javascript:/vbscript:/data: URL in any attribute, no style= attribute
(the letter's own MJML styles excepted: compared with the same letter written with harmless text).
"""
from __future__ import annotations

import io
from datetime import date, datetime
from xml.etree import ElementTree

import pytest
from PIL import Image
from sqlalchemy import select

from contributions import services, uploads
from contributions.models import Contribution, ResourceKind
from contributions.models import ContributionKind as K
from contributions.models import ContributionStatus as S
from core.db import utcnow
from core.formatting import PARIS
from core.text import safe_url
from newsletter import issues, mailout
from newsletter.models import IssueStatus
from tests.integration.helpers import login
from tests.support.hostile import XSS_PAYLOADS, assert_clean, assert_clean_text, audit


def tiny_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (20, 10), "green").save(out, "PNG")
    return out.getvalue()


def hostile_data(kind: K, payload: str) -> services.ContributionData:
    """Every field a partner (or a feed) can fill, filled with the payload."""
    body = f"Texte d'introduction.\n\n{payload}\n\n[lien sûr](https://ok.example)"
    short = payload[:300]
    data = services.ContributionData(kind=kind, title=f"Titre {payload}"[:300], body_md=body)
    if kind is K.evenement:
        data.event_start = datetime(2026, 12, 10, 18, tzinfo=PARIS)
        data.place, data.audience, data.contact = short, short, short
    if kind is K.appel_a_projets:
        data.deadline = date(2027, 1, 31)
    if kind is K.ressource:
        data.resource_kind, data.link = ResourceKind.guide, "https://ok.example/guide"
    if kind is K.fiche_action:
        fiche = services.FicheData(year=2025, action_status="terminee", keywords=[short], initiative=[short],
                                   public=[short], partners=[short])
        for name in ("structure_label", "departement", "dimension", "territory"):
            setattr(fiche, name, payload[:80])
        for name in ("status_reason", "contact", *services.FICHE_MARKDOWN_FIELDS):
            setattr(fiche, name, body)
        data.fiche = fiche
    return data


def _letter(db, world, contributions: list[Contribution], numero: int):
    for c in contributions:
        services.decide(db, world["editor"], c, S.accepted)
    issue = issues.create_issue(db, world["editor"], numero, "Numéro d'essai", date(2026, 9, 15), "Édito.")
    for c in contributions:
        issues.add_item(db, issue, c)
    mailout.compile_issue(db, issue)
    issue.status, issue.published_at = IssueStatus.sent, utcnow()
    db.commit()
    return issue


_REFERENCE: dict[str, frozenset] = {}


def reference_letter(db, world) -> dict[str, frozenset]:
    """Styles, <style> blocks and conditional comments of the letter written with harmless text:
    the only ones the hostile letter may carry. Computed once (they depend on the templates only)."""
    if not _REFERENCE:
        # The same contributions with harmless words.
        image = uploads.process_image(tiny_png(), "x.png", "Rien à signaler.")
        made = [services.create(db, world["other"], hostile_data(kind, "Rien à signaler."),
                                files=[image] if kind is K.actualite else None) for kind in K]
        issue = _letter(db, world, made, 900)
        for name, html in (("html", issue.compiled_html), ("archive", issue.archive_email_html)):
            parsed = audit(html)
            _REFERENCE[f"{name}_styles"] = frozenset(v for _, n, v in parsed.attributes if n == "style")
            _REFERENCE[f"{name}_comments"] = frozenset(parsed.comments)
            _REFERENCE[f"{name}_tags"] = frozenset(parsed.tags)
    return _REFERENCE


# Each payload gets its own five contributions; payloads go through the site by groups, so that
# the logins, the fixtures and the letter's compilation are paid once per group, not per payload.
GROUP = 11
GROUPS = [list(range(i, min(i + GROUP, len(XSS_PAYLOADS)))) for i in range(0, len(XSS_PAYLOADS), GROUP)]


@pytest.mark.parametrize("group", GROUPS, ids=lambda g: f"payloads-{g[0]}-{g[-1]}")
def test_payloads_in_every_field_of_every_kind_never_reach_any_output(group, app, db, world, captured_jobs):
    reference = reference_letter(db, world)
    partner, editor = app.test_client(), app.test_client()
    login(partner, "amina@tilleuls.test", "mdp-partenaire")
    login(editor, "redaction@reaap.test", "mdp-redaction")

    made: list[tuple[int, Contribution]] = []
    for index in group:
        payload = XSS_PAYLOADS[index]
        image = uploads.process_image(tiny_png(), "x.png", payload)
        for kind in K:
            data = hostile_data(kind, payload)
            c = services.create(db, world["partner"], data, submit=False,
                                files=[image] if kind is K.actualite else None)
            db.commit()
            # The edit form shows the raw text back in its fields: escaped, it must stay text.
            form = partner.get(f"/partenaires/contributions/{c.id}/modifier")
            assert form.status_code == 200
            page = assert_clean(form.get_data(as_text=True), f"payload {index}, edit form ({kind.value})")
            assert "textarea" in page.tags
            services.update(db, world["partner"], c, data, submit=True)
            db.commit()
            made.append((index, c))

        # The preview of a new fiche action, every Markdown field filled.
        fields = {"title": "Aperçu", "action": "preview", "body_md": payload, "status_reason": payload,
                  "keywords": payload, "public": payload, "partners": payload, "initiative": payload,
                  **{name: payload for name in services.FICHE_MARKDOWN_FIELDS}}
        preview = partner.post("/partenaires/nouvelle/fiche-action", data=fields)
        assert preview.status_code == 200 and "Aperçu" in preview.get_data(as_text=True)
        assert_clean(preview.get_data(as_text=True), f"payload {index}, preview")

    for index, c in made:
        where = f"payload {index}, {c.kind.value}"
        own = partner.get(f"/partenaires/contributions/{c.id}").get_data(as_text=True)
        parsed = assert_clean(own, f"{where}, partner page")
        assert ("a", "href", "https://ok.example") in parsed.attributes  # the text is really there
        review = editor.get(f"/redaction/moderation/{c.id}").get_data(as_text=True)
        assert_clean(review, f"{where}, moderation page")
    assert_clean(partner.get("/partenaires/").get_data(as_text=True), "partner home")
    assert_clean(editor.get("/redaction/moderation/?statut=tous").get_data(as_text=True), "queue")

    issue = _letter(db, world, [c for _, c in made], 1)
    html = assert_clean(issue.compiled_html, "compiled letter (HTML)", allowed_styles=reference["html_styles"],
                        allowed_tags=reference["html_tags"] & {"style"},
                        allowed_comments=reference["html_comments"])
    assert ("a", "href", "https://ok.example") in html.attributes
    assert_clean(issue.archive_email_html, "archived e-mail", allowed_styles=reference["archive_styles"],
                 allowed_tags=reference["archive_tags"] & {"style"},
                 allowed_comments=reference["archive_comments"])
    assert_clean_text(issue.compiled_text, "compiled letter (text)")
    assert "https://ok.example" in issue.compiled_text

    visitor = app.test_client()
    for path in ("/lettres/1/", "/lettres/"):
        response = visitor.get(path)
        assert response.status_code == 200
        assert_clean(response.get_data(as_text=True), f"public page {path}")
    web = audit(visitor.get("/lettres/1/").get_data(as_text=True))
    assert ("a", "href", "https://ok.example") in web.attributes
    emailed = visitor.get("/lettres/1/email.html").get_data(as_text=True)
    assert_clean(emailed, "public e-mail version", allowed_styles=reference["archive_styles"],
                 allowed_tags=reference["archive_tags"] & {"style"},
                 allowed_comments=reference["archive_comments"])
    preview_text = editor.get(f"/redaction/numeros/{issue.id}/apercu/texte").get_data(as_text=True)
    assert_clean_text(preview_text, "text preview")

    # Now published: the directory of actions, the agenda and their feeds show them to everyone.
    for index, c in made:
        if c.kind is K.fiche_action:
            path = f"/actions/{c.id}/"
        elif c.kind is K.evenement:
            path = f"/agenda/partenaires/{c.id}/"
        else:
            continue
        response = visitor.get(path)
        assert response.status_code == 200, path
        assert_clean(response.get_data(as_text=True), f"payload {index}, public page {path}")
    for path in ("/actions/", "/actions/?q=parents", "/agenda/", "/agenda/?passes=1"):
        response = visitor.get(path)
        assert response.status_code == 200, path
        assert_clean(response.get_data(as_text=True), f"public page {path}")
    for path, at_least in (("/actions/feed.atom", len(group)), ("/lettres/feed.atom", 1)):
        atom = ElementTree.fromstring(visitor.get(path).get_data())
        # Only type="html" elements are markup to a feed reader; titles are type="text".
        embedded = [element.text or "" for element in atom.iter() if element.get("type") == "html"]
        assert len(embedded) >= at_least, path
        for fragment in embedded:
            assert_clean(fragment, f"Atom feed {path} (embedded HTML)")


@pytest.mark.parametrize("link", [
    "javascript:alert(1)", "JavaScript:alert(1)", " javascript:alert(1)", "java\tscript:alert(1)",
    "vbscript:msgbox(1)", "data:text/html;base64,PHNjcmlwdD4=", "//evil.example/x", "/relative",
    "https:evil", "ftp://files.example/x",
])
def test_a_link_that_is_not_http_is_refused(world, db, link):
    assert safe_url(link) == ""
    with pytest.raises(services.ModerationError, match="https://"):
        services.create(db, world["partner"], services.ContributionData(kind=K.actualite, title="x", link=link))
    assert db.scalar(select(Contribution)) is None
