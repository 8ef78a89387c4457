"""The editors' hand on content: edits with a diff and the partner's original kept, the decision
e-mail that says what changed, two editors at once, partners editing until an editor opens the
submission, hostile HTML, the network's own articles and the draft « Retour sur… »."""
from __future__ import annotations

from sqlalchemy import select

from accounts.models import JournalEntry
from contributions import services
from contributions.models import Contribution, ContributionRevision, Structure
from contributions.models import ContributionKind as K
from contributions.models import ContributionStatus as S
from core.settings import get_settings
from mailing.models import OutboundEmail
from tests.integration.helpers import login, make_event


def _submitted(db, world, **extra) -> Contribution:
    values = dict(kind=K.actualite, title="Café des parents", body_md="Tous les mardis au centre.",
                  link="https://tilleuls.example/cafe")
    values.update(extra)
    c = services.create(db, world["partner"], services.ContributionData(**values))
    db.commit()
    return c


def _editor(app):
    client = app.test_client()
    login(client, "redaction@reaap.test", "mdp-redaction")
    return client


def _partner(app):
    client = app.test_client()
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    return client


def _form(c: Contribution, **changes) -> dict:
    form = {"title": c.title, "body_md": c.body_md, "link": c.link or "", "version": str(c.version),
            "action": "save"}
    form.update(changes)
    return form


def _journal(db, action):
    return list(db.scalars(select(JournalEntry).where(JournalEntry.action == action)))


def test_an_editor_edits_a_submission_and_the_history_shows_a_diff_with_the_original_kept(app, db, world):
    c = _submitted(db, world)
    editor = _editor(app)
    assert editor.get(f"/redaction/contributions/{c.id}/modifier").status_code == 200
    response = editor.post(f"/redaction/contributions/{c.id}/modifier", data=_form(
        c, title="Café des familles", body_md="Tous les mardis au centre social."))
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    db.expire_all()
    assert (c.title, c.body_md, c.version) == ("Café des familles", "Tous les mardis au centre social.", 2)
    [revision] = c.revisions
    assert revision.before["title"] == "Café des parents"  # the partner's original, kept
    assert revision.after["body_md"] == "Tous les mardis au centre social."
    page = editor.get(f"/redaction/moderation/{c.id}").get_data(as_text=True)
    assert '<del><span class="visually-hidden">[supprimé] </span>parents</del>' in page
    assert '<ins><span class="visually-hidden">[ajouté] </span>familles</ins>' in page
    [entry] = _journal(db, "contribution.edited")
    assert entry.target == f"contribution:{c.id}" and "Café des familles" in entry.summary
    # The partner sees it too.
    assert "familles</ins>" in _partner(app).get(f"/partenaires/contributions/{c.id}").get_data(as_text=True)


def test_accepted_with_edits_the_partners_email_says_what_changed(app, db, world):
    c = _submitted(db, world)
    editor = _editor(app)
    editor.post(f"/redaction/contributions/{c.id}/modifier", data=_form(c, title="Café des familles"))
    assert editor.post(f"/redaction/moderation/{c.id}", data={"decision": "accepted"}).status_code == 302
    mail = db.scalars(select(OutboundEmail).where(OutboundEmail.template == "moderation_decision")).one()
    assert "Titre : « Café des parents » → « Café des familles »" in mail.text_body
    assert "Café des familles" in mail.html_body and "retouché votre texte" in mail.html_body


def test_accepted_without_edits_the_email_lists_no_change(app, db, world):
    c = _submitted(db, world)
    assert _editor(app).post(f"/redaction/moderation/{c.id}", data={"decision": "accepted"}).status_code == 302
    mail = db.scalars(select(OutboundEmail).where(OutboundEmail.template == "moderation_decision")).one()
    assert "retouché" not in mail.text_body


def test_an_editor_edits_an_accepted_contribution_too(app, db, world):
    c = _submitted(db, world)
    services.decide(db, world["editor"], c, S.accepted)
    db.commit()
    response = _editor(app).post(f"/redaction/contributions/{c.id}/modifier", data=_form(c, link="https://autre.example/"))
    assert response.status_code == 302
    db.expire_all()
    assert c.link == "https://autre.example/" and c.status is S.accepted and len(c.revisions) == 1


def test_two_editors_the_second_is_told_and_loses_nothing(app, db, world):
    from accounts.auth import create_user
    from accounts.models import Role
    create_user(db, "second@reaap.test", "Sami Haddad", Role.editor, "mdp-second")
    db.commit()
    c = _submitted(db, world)
    first, second = _editor(app), app.test_client()
    login(second, "second@reaap.test", "mdp-second")
    read_at = str(c.version)  # both opened the form at version 1
    assert first.post(f"/redaction/contributions/{c.id}/modifier",
                      data=_form(c, title="Titre de Claire", version=read_at)).status_code == 302
    response = second.post(f"/redaction/contributions/{c.id}/modifier",
                           data=_form(c, title="Titre de Sami", body_md="Le texte de Sami, long et soigné.",
                                      version=read_at))
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "a été modifiée par Claire Martin pendant que vous la modifiiez" in page
    assert "Le texte de Sami, long et soigné." in page and 'value="Titre de Sami"' in page  # nothing lost
    assert 'name="version" value="2"' in page  # the next save knowingly replaces Claire's
    db.expire_all()
    assert c.title == "Titre de Claire" and c.version == 2
    response = second.post(f"/redaction/contributions/{c.id}/modifier",
                           data=_form(c, title="Titre de Sami", body_md="Le texte de Sami, long et soigné.",
                                      version="2"))
    assert response.status_code == 302
    db.expire_all()
    assert c.title == "Titre de Sami" and len(c.revisions) == 2


def test_a_form_without_its_version_is_refused_as_stale(app, db, world):
    c = _submitted(db, world)
    form = _form(c, title="Sans version")
    del form["version"]
    assert _editor(app).post(f"/redaction/contributions/{c.id}/modifier", data=form).status_code == 409
    db.expire_all()
    assert c.title == "Café des parents"


def test_a_partner_edits_a_submission_until_an_editor_opens_it(app, db, world):
    c = _submitted(db, world)
    partner = _partner(app)
    form = {"kind": "actualite", "title": "Café des parents (nouvel horaire)", "body_md": "Le mardi à 9 h.",
            "action": "submit"}
    assert partner.get(f"/partenaires/contributions/{c.id}/modifier").status_code == 200
    assert partner.post(f"/partenaires/contributions/{c.id}/modifier", data=form).status_code == 302
    db.expire_all()
    assert c.title == "Café des parents (nouvel horaire)" and c.status is S.submitted
    assert len(c.transitions) == 2  # saved again, not sent twice
    assert _editor(app).get(f"/redaction/moderation/{c.id}").status_code == 200  # opened
    db.expire_all()
    assert c.opened_at is not None and c.opened_by_id == world["editor"].id
    assert partner.get(f"/partenaires/contributions/{c.id}/modifier").status_code == 302
    response = partner.post(f"/partenaires/contributions/{c.id}/modifier",
                            data=dict(form, body_md="Une correction tardive, à ne pas perdre."))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "La rédaction a commencé la relecture de cette contribution" in page
    assert "Une correction tardive, à ne pas perdre." in page  # their text, shown again
    db.expire_all()
    assert c.body_md == "Le mardi à 9 h."


def test_a_partner_cannot_reach_the_editors_edit_page(app, db, world):
    c = _submitted(db, world)
    partner = _partner(app)
    assert partner.get(f"/redaction/contributions/{c.id}/modifier").status_code == 403
    assert partner.post(f"/redaction/contributions/{c.id}/modifier", data=_form(c, title="X")).status_code == 403


def test_hostile_html_in_an_edit_is_cleaned_like_a_contribution(app, db, world):
    c = _submitted(db, world)
    editor = _editor(app)
    hostile = ('<script>alert("x")</script><img src=x onerror="alert(1)"> [lien](javascript:alert(1)) '
               '<a href="https://ok.example" onclick="evil()">ok</a>\x00')
    response = editor.post(f"/redaction/contributions/{c.id}/modifier", data=_form(
        c, title='<b onmouseover="x()">Titre</b>', body_md=hostile))
    assert response.status_code == 302
    db.expire_all()
    assert "\x00" not in c.body_md
    for page in (editor.get(f"/redaction/moderation/{c.id}").get_data(as_text=True),
                 _partner(app).get(f"/partenaires/contributions/{c.id}").get_data(as_text=True)):
        elements = _elements(page)
        assert not [attrs for tag, attrs in elements if any(name.startswith("on") for name, _ in attrs)]
        assert not [attrs for tag, attrs in elements if any("javascript:" in (v or "") for _, v in attrs)]
        assert not [tag for tag, attrs in elements if tag == "b"]  # the title's tag is text
        assert "alert" not in "".join(_scripts(page))
        assert "&lt;script&gt;" in page  # shown as text, in the text and in the diff


def _elements(page: str) -> list[tuple[str, list]]:
    from html.parser import HTMLParser
    found: list[tuple[str, list]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag, attrs):
            found.append((tag, attrs))
    Collect().feed(page)
    return found


def _scripts(page: str) -> list[str]:
    from html.parser import HTMLParser
    scripts: list[str] = []

    class Collect(HTMLParser):
        inside = False

        def handle_starttag(self, tag, attrs):
            self.inside = tag == "script"

        def handle_data(self, data):
            if self.inside:
                scripts.append(data)

        def handle_endtag(self, tag):
            self.inside = False
    Collect().feed(page)
    return scripts


def test_the_editor_writes_the_networks_own_article_without_a_structure(app, db, world):
    assert world["editor"].structure_id is None
    response = _editor(app).post("/redaction/contributions/nouvel-article/actualite", data={
        "title": "La journée des porteurs de projet revient", "body_md": "Le réseau vous donne rendez-vous.",
        "action": "accept"})
    assert response.status_code == 302, response.get_data(as_text=True)[:600]
    c = db.scalars(select(Contribution).where(Contribution.title.startswith("La journée"))).one()
    assert c.status is S.accepted and c.source == "network"
    assert c.structure.name == get_settings().network_name and c.author_id == world["editor"].id
    [entry] = _journal(db, "contribution.created_by_network")
    assert entry.target == f"contribution:{c.id}"


def test_a_networks_article_kept_as_a_draft_needs_only_a_title(app, db, world):
    response = _editor(app).post("/redaction/contributions/nouvel-article/appel-a-projets", data={
        "title": "Appel à projets REAAP 2027", "action": "draft"})
    assert response.status_code == 302
    c = db.scalars(select(Contribution).where(Contribution.title == "Appel à projets REAAP 2027")).one()
    assert c.status is S.draft


def test_the_draft_retour_gets_an_edit_page_and_is_accepted_once_completed(app, db, world):
    from events.messages import create_retour
    event = make_event(db, days=-2)
    retour = create_retour(db, event)
    db.commit()
    assert retour is not None and "complétez-le" in retour.body_md
    editor = _editor(app)
    review = editor.get(f"/redaction/moderation/{retour.id}").get_data(as_text=True)
    assert f"/redaction/contributions/{retour.id}/modifier" in review and "Compléter l'article" in review
    page = editor.get(f"/redaction/contributions/{retour.id}/modifier").get_data(as_text=True)
    assert "complétez-le" in page and "Enregistrer et accepter" in page
    response = editor.post(f"/redaction/contributions/{retour.id}/modifier", data=_form(
        retour, body_md="Trente parents sont venus parler de l'adolescence.", action="accept"))
    assert response.status_code == 302
    db.expire_all()
    assert retour.status is S.accepted and retour.body_md.startswith("Trente parents")
    assert db.scalars(select(ContributionRevision).where(ContributionRevision.contribution_id == retour.id)).one()
    assert _journal(db, "contribution.accepted_by_network")
    network = db.get(Structure, retour.structure_id)
    assert network is not None and network.name == get_settings().network_name


def test_an_image_description_is_edited_and_an_empty_one_refused(app, db, world):
    from contributions.uploads import process_upload
    from tests.support.images import image_bytes
    image = process_upload(image_bytes("PNG", size=(300, 200), exif=False), "affiche.png", "Une affiche", None)
    c = services.create(db, world["partner"], services.ContributionData(kind=K.actualite, title="Avec image",
                                                                       body_md="x"), files=[image])
    db.commit()
    [f] = c.files
    editor = _editor(app)
    assert editor.post(f"/redaction/contributions/{c.id}/modifier",
                       data=_form(c, **{f"alt-{f.id}": "  "})).status_code == 422
    response = editor.post(f"/redaction/contributions/{c.id}/modifier",
                           data=_form(c, **{f"alt-{f.id}": "L'affiche du café des parents"}))
    assert response.status_code == 302
    db.expire_all()
    assert f.alt_text == "L'affiche du café des parents"
    assert "L'affiche du café des parents" in c.revisions[0].after["images"]


def test_a_contribution_sent_again_after_changes_is_editable_until_opened_again(app, db, world):
    c = _submitted(db, world)
    editor, partner = _editor(app), _partner(app)
    editor.get(f"/redaction/moderation/{c.id}")
    editor.post(f"/redaction/moderation/{c.id}", data={"decision": "changes_requested", "comment": "Le lieu ?"})
    form = {"kind": "actualite", "title": c.title, "body_md": "Au centre social, salle 2.", "action": "submit"}
    assert partner.post(f"/partenaires/contributions/{c.id}/modifier", data=form).status_code == 302
    db.expire_all()
    assert c.status is S.submitted and c.opened_at is None
    assert partner.post(f"/partenaires/contributions/{c.id}/modifier",
                        data=dict(form, body_md="Au centre social, salle 3.")).status_code == 302
    db.expire_all()
    assert c.body_md == "Au centre social, salle 3."
