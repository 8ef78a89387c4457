"""Every page, public and editor, through the Flask client (issue 13, item 31): one <h1>, <time
datetime> values HTML accepts (at most three decimals of seconds), the favicon linked. And two
details of forms: the required select starts with an empty choice, a button's accessible name
contains its visible text. (The Nu HTML validator is not installed here: lxml parses the pages.)"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from lxml import html as lxml_html
from sqlalchemy import select

from accounts.models import Role
from contributions import services as contributions
from contributions.models import Contribution, ContributionKind, FicheAction, Structure
from contributions.models import ContributionStatus as S
from core.db import utcnow
from core.formatting import PARIS
from events import services as events
from newsletter import mailout
from newsletter.models import IssueStatus
from tests.integration.helpers import compose, login, make_event, people

# A valid date, or a global date and time (RFC 3339 profile of HTML) with at most 3 decimals.
TIME_VALUE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?)?$")


def _site(db, world) -> dict:
    """Something on every page: a published letter and a draft, events, a partner's event, a fiche."""
    subscriber = people(db, 2)[0]
    letter = compose(db, world, numero=1)
    mailout.compile_issue(db, letter)
    letter.status, letter.published_at, letter.sent_at = IssueStatus.sent, utcnow(), utcnow()
    draft = compose(db, world, numero=2)
    event = make_event(db, capacity=20)
    registration = events.register(db, event, "Zoé Parent", "zoe@exemple.org", consent=True)
    partner_event = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.evenement, title="Soirée jeux", body_md="Venez jouer.",
        event_start=datetime(2030, 3, 3, 18, tzinfo=PARIS), event_end=datetime(2030, 3, 3, 20, tzinfo=PARIS),
        place="Salle des fêtes"))
    contributions.decide(db, world["editor"], partner_event, S.accepted)
    fiche = Contribution(structure_id=world["tilleuls"].id, kind=ContributionKind.fiche_action, status=S.accepted,
                         title="Un goûter des familles", body_md="Des goûters.", source="partner")
    fiche.fiche = FicheAction(summary="Un goûter par mois.", keywords=["Parentalité"], year=2026)
    db.add(fiche)
    db.commit()
    return {"issue_id": draft.id, "sent_issue_id": letter.id, "numero": 1, "event_id": event.id,
            "contribution_id": partner_event.id, "fiche_id": fiche.id, "structure_id": world["tilleuls"].id,
            "registration_token": registration.token, "registration_id": registration.id,
            "subscriber_id": subscriber.id, "subscriber_token": subscriber.unsubscribe_token}


def _urls(app, ids: dict) -> tuple[list[str], list[str]]:
    """Every GET page of the app with its arguments filled from `ids` (public, then editor)."""
    fill = {"issue_id": ids["issue_id"], "numero": ids["numero"], "event_id": ids["event_id"],
            "contribution_id": ids["contribution_id"], "structure_id": ids["structure_id"],
            "registration_id": ids["registration_id"], "slug": "evenement",
            "subscriber_id": ids["subscriber_id"], "token": ids["subscriber_token"], "name": "login_link"}
    skip = {"static", "files.file", "files.email_copy", "directory.fiche_file", "partners.pending_file",
            "auth.follow_link", "auth.accept_invitation", "subscribers.confirm", "subscribers.unsubscribe",
            "subscribers.preferences", "calendar.edit", "invitations.invitation", "redaction.progress",
            "public.letters_feed", "directory.feed", "events.agenda_ics", "events.admin_csv",
            "public.letter_email", "redaction.preview_email", "redaction.preview_text",
            "invitations.preview", "events.registration", "partners.new_contribution",
            "subscribers_admin.export", "widgets.embed_script", "email_texts.preview_html", "journal.export",
            "statistics.table_csv", "statistics.table_svg", "statistics.bilan",
            "public.letter_pdf_file"}  # PDF: tests/integration/newsletter/test_archive.py
    # Images named by a hash, a block's page, the admins' settings: tests/integration/newsletter/test_design.py.
    skip |= {"site_settings.logo", "site_settings.edit", "letter_blocks.banner", "letter_blocks.edit"}
    public, editor = [], []
    with app.test_request_context():
        from flask import url_for
        for rule in app.url_map.iter_rules():
            if ("GET" not in rule.methods or rule.endpoint in skip
                    or rule.endpoint.startswith(("webhooks", "rubriques."))  # admins only
                    or rule.endpoint.startswith(("api.", "api_fallback.", "api-docs.", "ops."))  # test_api, test_ops
                    or rule.endpoint.startswith(("subscriber_import.", "fiche_import.")) and "token" in rule.arguments):
                continue
            args = {name: fill[name] for name in rule.arguments}
            if rule.endpoint == "directory.fiche":
                args["contribution_id"] = ids["fiche_id"]
            url = url_for(rule.endpoint, **args)
            behind_login = url.startswith(("/redaction", "/partenaires", "/connexion/mot-de-passe"))
            (editor if behind_login else public).append(url)
        public.append(url_for("events.registration", token=ids["registration_token"]))
        editor.append(url_for("redaction.issue", issue_id=ids["sent_issue_id"]))
    return sorted(public), sorted(editor)


def _check_page(url: str, response, status: int = 200) -> list[str]:
    problems = []
    if response.status_code != status or response.mimetype != "text/html":
        return [f"{url}: {response.status_code} {response.mimetype}"]
    tree = lxml_html.fromstring(response.get_data(as_text=True))
    h1 = tree.xpath("//h1")
    if len(h1) != 1:
        problems.append(f"{url}: {len(h1)} <h1>")
    for value in tree.xpath("//time/@datetime"):
        if not TIME_VALUE.match(value):
            problems.append(f"{url}: <time datetime={value!r}>")
    if not tree.xpath("//head/link[@rel='icon' and @href]"):
        problems.append(f"{url}: no favicon link")
    return problems


def test_every_page_has_one_h1_valid_times_and_the_favicon(app, client, db, world):
    ids = _site(db, world)
    public, editor = _urls(app, ids)
    assert len(public) >= 15 and len(editor) >= 25, (public, editor)
    problems = []
    for url in public:
        problems += _check_page(url, client.get(url))
    partner_pages = [u for u in editor if u.startswith("/partenaires")]
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    for url in partner_pages:
        if url.startswith("/partenaires/contributions/") and url.endswith("/modifier"):
            continue  # accepted: no longer editable (a redirect)
        problems += _check_page(url, client.get(url))
    world["editor"].role = Role.admin  # the admins' pages (accounts) too
    db.commit()
    editor_client = app.test_client()
    login(editor_client, "redaction@reaap.test", "mdp-redaction")
    for url in editor:
        if url.startswith("/partenaires"):
            continue
        problems += _check_page(url, editor_client.get(url))
    # The 404 and login pages too.
    problems += _check_page("/connexion", app.test_client().get("/connexion"))
    problems += _check_page("/nulle-part", app.test_client().get("/nulle-part"), status=404)
    assert not problems, "\n".join(problems)
    assert app.test_client().get("/static/favicon.svg").mimetype == "image/svg+xml"


def test_the_required_kind_of_structure_starts_with_an_empty_choice(app, db, world):
    client = app.test_client()
    login(client, "redaction@reaap.test", "mdp-redaction")
    tree = lxml_html.fromstring(client.get("/redaction/structures/nouvelle").get_data(as_text=True))
    [select_] = tree.xpath("//select[@name='kind']")
    options = select_.xpath("./option")
    assert select_.get("required") is not None
    assert options[0].get("value") == "" and not any(o.get("selected") is not None for o in options)
    response = client.post("/redaction/structures/nouvelle", data={"name": "Sans type", "kind": ""})
    assert response.status_code in (200, 422) and "Choisissez le type de structure" in response.get_data(as_text=True)
    assert db.scalar(select(Structure).where(Structure.name == "Sans type")) is None


def test_buttons_accessible_names_contain_their_visible_text(app, db, world):
    from accounts.auth import create_user
    from accounts.models import Role
    invited = create_user(db, "nina@tilleuls.test", "Nina Invitée", Role.partner, None, world["tilleuls"].id)
    invited.invited_at = utcnow() - timedelta(days=1)
    db.commit()
    client = app.test_client()
    login(client, "redaction@reaap.test", "mdp-redaction")
    problems = []
    for url in (f"/redaction/structures/{world['tilleuls'].id}", "/redaction/numeros/", "/redaction/evenements/"):
        tree = lxml_html.fromstring(client.get(url).get_data(as_text=True))
        for button in tree.xpath("//button[@aria-label] | //a[@aria-label]"):
            visible = " ".join(button.text_content().split())
            if visible and visible.casefold() not in button.get("aria-label").casefold():
                problems.append(f"{url}: « {visible} » named « {button.get('aria-label')} »")
    assert not problems, "\n".join(problems)
