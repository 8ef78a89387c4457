"""Structures, partner invitations and e-mailed login links (issue 5, partners and structures)."""
from __future__ import annotations

import re
import time

import itsdangerous
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from accounts import auth
from accounts.models import Role, User
from contributions import services as contributions
from contributions import structures
from contributions.models import (
    Contribution,
    ContributionKind,
    Structure,
    StructureKind,
)
from mailing.models import OutboundEmail, OutboundStatus
from mailing.outbox import send_outbound
from tests.integration.helpers import login, run_login_link_jobs, wait_for


def outbox(db, template: str | None = None) -> list[OutboundEmail]:
    db.expire_all()
    query = select(OutboundEmail).order_by(OutboundEmail.id)
    if template:
        query = query.where(OutboundEmail.template == template)
    return list(db.scalars(query))


def link_in(text: str, kind: str) -> str:
    """The path of the link of `kind` (lien, invitation) in an e-mail's text."""
    match = re.search(rf"https://parentalites\.test(/connexion/{kind}/[\w.-]+)", text)
    assert match, text
    return match.group(1)


def user_by_email(db, email: str) -> User | None:
    db.expire_all()
    return db.scalar(select(User).where(User.email == email))


def news(title: str = "Café des parents") -> contributions.ContributionData:
    return contributions.ContributionData(kind=ContributionKind.actualite, title=title, body_md="Chaque jeudi.")


# --- Structures ---------------------------------------------------------------------------------

def test_editor_creates_a_structure_and_a_bad_feed_url_is_refused_in_french(client, world, db):
    login(client, "redaction@reaap.test", "mdp-redaction")
    form = {"name": "Espace de vie sociale La Passerelle", "kind": "evs", "commune": "Bondy",
            "departement": "Seine-Saint-Denis (93)", "website": "https://passerelle.example.org",
            "feed_url": "javascript:alert(1)"}
    response = client.post("/redaction/structures/nouvelle", data=form)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Le flux doit être une adresse http:// ou https://" in page and 'aria-invalid="true"' in page
    assert 'value="Espace de vie sociale La Passerelle"' in page  # what was typed is kept
    assert db.scalar(select(func.count(Structure.id))) == 2

    for bad in ("ftp://passerelle.example.org/feed", "pas un lien", "https://"):
        assert client.post("/redaction/structures/nouvelle", data={**form, "feed_url": bad}).status_code == 422
    assert client.post("/redaction/structures/nouvelle",
                       data={**form, "feed_url": "", "website": "passerelle.org"}).status_code == 422
    response = client.post("/redaction/structures/nouvelle",
                           data={**form, "feed_url": "https://passerelle.example.org/feed.xml"})
    assert response.status_code == 302
    created = db.scalar(select(Structure).where(Structure.name == form["name"]))
    assert (created.kind, created.commune, created.feed_url, created.departement) == (
        StructureKind.evs, "Bondy", "https://passerelle.example.org/feed.xml", "93")
    page = client.get(response.location).get_data(as_text=True)
    assert "Espace de vie sociale La Passerelle" in page and "Pas encore relevé" not in page  # full notice, not badge
    assert "Aucun compte pour l'instant" in page


def test_a_structure_departement_must_name_one_and_shows_by_name(client, world, db):
    login(client, "redaction@reaap.test", "mdp-redaction")
    form = {"name": "La Passerelle", "kind": "evs", "commune": "Bondy", "departement": "Seine-et-Oise"}
    refused = client.post("/redaction/structures/nouvelle", data=form)
    assert refused.status_code == 422
    assert "Département inconnu : indiquez son numéro (93) ou son nom (Seine-Saint-Denis)." in refused.get_data(
        as_text=True)
    response = client.post("/redaction/structures/nouvelle", data={**form, "departement": "seine saint denis"})
    assert response.status_code == 302
    created = db.scalar(select(Structure).where(Structure.name == "La Passerelle"))
    assert created.departement == "93"
    assert "Seine-Saint-Denis (93)" in client.get(response.location).get_data(as_text=True)
    assert 'value="Seine-Saint-Denis (93)"' in client.get(f"/redaction/structures/{created.id}/modifier").get_data(
        as_text=True)
    with pytest.raises(structures.StructureError, match="Département inconnu"):
        structures.create_structure(db, structures.StructureData(name="X", kind=StructureKind.autre,
                                                                 departement="Île-de-France"))


def test_editing_a_structure_keeps_its_kind_and_a_new_feed_starts_afresh(client, world, db):
    tilleuls = world["tilleuls"]
    tilleuls.feed_url, tilleuls.feed_failures, tilleuls.feed_error = "https://old.example.org/rss", 4, "HTTP 404"
    tilleuls.feed_etag = '"abc"'
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/structures/{tilleuls.id}/modifier").get_data(as_text=True)
    assert '<option selected value="centre_social">' in page or 'value="centre_social" selected' in page
    assert 'value="Centre social Les Tilleuls"' in page
    response = client.post(f"/redaction/structures/{tilleuls.id}/modifier", data={
        "name": "Centre social Les Tilleuls", "kind": "centre_social", "commune": "Bobigny",
        "departement": "93", "website": "", "feed_url": "https://tilleuls.example.org/atom.xml"})
    assert response.status_code == 302
    db.refresh(tilleuls)
    assert tilleuls.feed_url == "https://tilleuls.example.org/atom.xml"
    assert (tilleuls.feed_failures, tilleuls.feed_error, tilleuls.feed_etag) == (0, None, None)
    assert tilleuls.departement == "93" and tilleuls.website is None


def test_structure_list_counts_accounts_and_contributions_and_shows_feed_status(client, world, db, captured_jobs):
    tilleuls, asso = world["tilleuls"], world["asso"]
    contributions.create(db, world["partner"], news("Un"))
    contributions.create(db, world["partner"], news("Deux"))
    contributions.create(db, world["other"], news("Trois"))
    auth.create_user(db, "sami@tilleuls.test", "Sami Haddad", Role.partner, None, tilleuls.id)
    tilleuls.feed_url, tilleuls.feed_warning = "https://tilleuls.example.org/rss", "<unknown>:3:1: mismatched tag"
    tilleuls.feed_ok_at = asso.feed_ok_at = None
    asso.feed_url, asso.feed_failures, asso.feed_error = "https://asso.example.org/rss", 3, "Délai dépassé"
    calm = Structure(name="CAF de la Seine-Saint-Denis", kind=StructureKind.caf, feed_url="https://caf.example.org/rss")
    from core.db import utcnow
    calm.feed_ok_at = utcnow()
    shaky = Structure(name="Ville de Bondy", kind=StructureKind.ville, feed_url="https://bondy.example.org/rss",
                      feed_failures=1, feed_error="HTTP 503")
    db.add_all([calm, shaky, Structure(name="LAEP Les Petits Pas", kind=StructureKind.autre)])
    db.commit()

    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get("/redaction/structures/").get_data(as_text=True)
    row_pattern = r"<tr>\s*<th scope=\"row\"><a [^>]+>([^<]+)</a>.*?</tr>"
    rows = {m.group(1): m.group(0) for m in re.finditer(row_pattern, page, re.S)}
    assert set(rows) == {"Association Parents Ensemble", "CAF de la Seine-Saint-Denis",
                         "Centre social Les Tilleuls", "Ville de Bondy", "LAEP Les Petits Pas"}

    def cells(row):
        return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]

    assert cells(rows["Centre social Les Tilleuls"])[2:] == ["2", "2", "Avertissement"]
    assert cells(rows["Association Parents Ensemble"])[2:] == ["1", "1", "En échec (3 fois de suite)"]
    assert cells(rows["CAF de la Seine-Saint-Denis"])[2:] == ["0", "0", "OK"]
    assert cells(rows["Ville de Bondy"])[2:] == ["0", "0", "Avertissement (1 échec)"]  # below the threshold
    assert cells(rows["LAEP Les Petits Pas"])[2:] == ["0", "0", "Pas de flux"]
    assert cells(rows["Centre social Les Tilleuls"])[0] == "Centre social"

    page = client.get(f"/redaction/structures/{asso.id}").get_data(as_text=True)
    assert "Délai dépassé" in page and "3 échecs de suite" in page and 'role="alert"' in page
    page = client.get(f"/redaction/structures/{tilleuls.id}").get_data(as_text=True)
    assert "mismatched tag" in page and "Un" in page and "Deux" in page and "Trois" not in page
    assert "Sami Haddad" in page and "amina@tilleuls.test" in page and "julien@asso.test" not in page
    page = client.get(f"/redaction/structures/{shaky.id}").get_data(as_text=True)
    assert "HTTP 503" in page and "1 fois de suite" in page


def test_structure_administration_is_for_editors_only(client, world, db):
    assert client.get("/redaction/structures/").status_code == 302  # to the login page
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    tilleuls = world["tilleuls"]
    for path in ("/redaction/structures/", "/redaction/structures/nouvelle", f"/redaction/structures/{tilleuls.id}",
                 f"/redaction/structures/{tilleuls.id}/modifier", f"/redaction/structures/{tilleuls.id}/inviter"):
        assert client.get(path).status_code == 403, path
    response = client.post(f"/redaction/structures/{tilleuls.id}/inviter",
                           data={"email": "x@tilleuls.test", "name": "X"})
    assert response.status_code == 403
    assert user_by_email(db, "x@tilleuls.test") is None


# --- Invitations --------------------------------------------------------------------------------

def test_invitation_end_to_end_through_the_outbox_a_worker_and_smtp(client, app, world, db, smtp, celery_worker):
    tilleuls = world["tilleuls"]
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post(f"/redaction/structures/{tilleuls.id}/inviter",
                           data={"email": "  Sami.Haddad@Tilleuls.TEST ", "name": "Sami Haddad"})
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Invitation envoyée à sami.haddad@tilleuls.test" in page
    sami = user_by_email(db, "sami.haddad@tilleuls.test")
    assert (sami.role, sami.structure_id, sami.password_hash, sami.active) == (Role.partner, tilleuls.id, None, True)
    assert sami.invited_at is not None and sami.last_login_at is None

    [received] = wait_for(lambda: smtp.to("sami.haddad@tilleuls.test"), message="the invitation")
    message = received.message
    assert "Les Tilleuls" in message["Subject"]
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    path = link_in(text, "invitation")
    assert path in html and "Claire Martin" in text and "7 jours" in text
    assert wait_for(lambda: outbox(db, "partner_invitation")[0].status is OutboundStatus.sent)

    newcomer = app.test_client()
    page = newcomer.get(path)
    assert page.status_code == 200 and "Centre social Les Tilleuls" in page.get_data(as_text=True)
    # Following the link by GET (a mail scanner does) logs nobody in and spends nothing.
    assert newcomer.get("/partenaires/").status_code == 302
    response = newcomer.post(path, data={"password": "9 signes", "password_confirm": "9 signes"})
    assert response.status_code == 422 and "Entre 10 et 512 caractères" in response.get_data(as_text=True)
    response = newcomer.post(path, data={"password": "une phrase de passe", "password_confirm": "une autre phrase"})
    assert response.status_code == 422 and "ne sont pas identiques" in response.get_data(as_text=True)
    assert user_by_email(db, "sami.haddad@tilleuls.test").password_hash is None
    response = newcomer.post(path, data={"password": "une phrase de passe", "password_confirm": "une phrase de passe"})
    assert response.status_code == 302 and response.location == "/partenaires/"
    assert newcomer.get("/partenaires/").status_code == 200
    sami = user_by_email(db, "sami.haddad@tilleuls.test")
    assert sami.password_hash.startswith("$argon2") and sami.last_login_at is not None

    # The invitation worked once; afterwards the password works, and the link says it was used.
    reused = app.test_client().get(path)
    assert reused.status_code == 410 and "Ce lien a déjà servi" in reused.get_data(as_text=True)
    login(app.test_client(), "sami.haddad@tilleuls.test", "une phrase de passe")


def test_invited_partner_may_continue_without_password_then_log_in_by_link(client, world, db, captured_jobs):
    user = structures.invite_partner(db, world["tilleuls"], "lea@tilleuls.test", "Léa Roux", world["editor"])
    db.commit()
    [mail] = outbox(db, "partner_invitation")
    assert mail.to_addr == "lea@tilleuls.test" and captured_jobs == [("tasks.mail.send_outbound", (mail.id,))]
    response = client.post(link_in(mail.text_body, "invitation"), data={"action": "continue"})
    assert response.status_code == 302 and response.location == "/partenaires/"
    db.refresh(user)
    assert user.password_hash is None and user.last_login_at is not None
    client.post("/deconnexion")
    # No password: the password form refuses, the e-mailed link lets her in.
    page = client.post("/connexion",
                       data={"email": "lea@tilleuls.test", "password": "n'importe"}).get_data(as_text=True)
    assert "Adresse e-mail ou mot de passe incorrect" in page
    client.post("/connexion/lien", data={"email": "lea@tilleuls.test"})
    run_login_link_jobs(db, captured_jobs)
    [link_mail] = outbox(db, "login_link")
    path = link_in(link_mail.text_body, "lien")
    assert client.post(path).status_code == 302
    assert client.get("/partenaires/").status_code == 200
    # Later she chooses a password from her account.
    response = client.post("/connexion/mot-de-passe",
                           data={"password": "jardin partagé 93", "password_confirm": "jardin partagé 93"})
    assert response.status_code == 302
    client.post("/deconnexion")
    login(client, "lea@tilleuls.test", "jardin partagé 93")


def test_reinviting_resends_and_a_structure_has_several_accounts(world, db, captured_jobs):
    tilleuls = world["tilleuls"]
    first = structures.invite_partner(db, tilleuls, "lea@tilleuls.test", "Léa Roux")
    again = structures.invite_partner(db, tilleuls, "LEA@tilleuls.test", "")
    structures.invite_partner(db, tilleuls, "amina@tilleuls.test", "")  # an existing account of the structure
    assert again.id == first.id and again.name == "Léa Roux"
    mails = outbox(db, "partner_invitation")
    assert [m.to_addr for m in mails] == ["lea@tilleuls.test", "lea@tilleuls.test", "amina@tilleuls.test"]
    assert link_in(mails[0].text_body, "invitation") and link_in(mails[1].text_body, "invitation")
    members = structures.structure_members(db, tilleuls)
    assert sorted(m.email for m in members) == ["amina@tilleuls.test", "lea@tilleuls.test"]
    amina = user_by_email(db, "amina@tilleuls.test")
    assert amina.invited_at is not None and auth.authenticate(db, "amina@tilleuls.test", "mdp-partenaire")


@pytest.mark.parametrize("address, message", [
    ("julien@asso.test", "déjà un compte partenaire pour une autre structure (Association Parents Ensemble)"),
    ("redaction@reaap.test", "compte de la rédaction"),
    ("pas-une-adresse", "Adresse e-mail invalide"),
    # Issue 13 #19: the reason in French, not email_validator's English.
    ("amina@tilleuls", "Adresse e-mail invalide : le nom de domaine après le signe @ doit contenir un point"),
])
def test_inviting_someone_elses_address_is_refused_and_changes_nothing(client, world, db, captured_jobs,
                                                                       address, message):
    login(client, "redaction@reaap.test", "mdp-redaction")
    before = {u.email: (u.structure_id, u.role, u.name, u.invited_at) for u in db.scalars(select(User))}
    response = client.post(f"/redaction/structures/{world['tilleuls'].id}/inviter",
                           data={"email": address, "name": "Quelqu'un"})
    assert response.status_code == 422
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert message in page and 'id="error-summary"' in page and "@-sign" not in page
    db.expire_all()
    assert {u.email: (u.structure_id, u.role, u.name, u.invited_at) for u in db.scalars(select(User))} == before
    assert outbox(db) == [] and captured_jobs == []


def test_a_new_address_needs_a_name(world, db, captured_jobs):
    with pytest.raises(structures.InvitationError, match="nom"):
        structures.invite_partner(db, world["tilleuls"], "nouveau@tilleuls.test", "  ")
    assert user_by_email(db, "nouveau@tilleuls.test") is None and outbox(db) == []


def test_the_invitation_mail_renders_and_is_sent_by_the_outbox_sender(world, db, smtp, captured_jobs):
    structures.invite_partner(db, world["asso"], "nadia@asso.test", "Nadia Kaci", world["editor"])
    [mail] = outbox(db, "partner_invitation")
    assert send_outbound(db, mail.id) is OutboundStatus.sent
    [received] = smtp.to("nadia@asso.test")
    assert "Association Parents Ensemble" in received.message["Subject"]
    html = received.message.get_body(preferencelist=("html",)).get_content()
    assert "Accepter l'invitation" in html and "/connexion/invitation/" in html


# --- Links: expired, tampered, reused, inactive -------------------------------------------------

def _token_made_minutes_ago(monkeypatch, user: User, purpose: auth.LinkPurpose, minutes: int) -> str:
    stamp = int(time.time()) - minutes * 60
    with monkeypatch.context() as m:
        m.setattr(itsdangerous.timed.TimestampSigner, "get_timestamp", lambda self: stamp)
        return auth.make_link_token(user, purpose)


def test_expired_links_are_refused_with_a_clear_page(client, world, db, monkeypatch):
    partner = world["partner"]
    old_login = _token_made_minutes_ago(monkeypatch, partner, auth.LinkPurpose.login, 16)
    fresh_login = _token_made_minutes_ago(monkeypatch, partner, auth.LinkPurpose.login, 14)
    old_invite = _token_made_minutes_ago(monkeypatch, partner, auth.LinkPurpose.invitation, 7 * 24 * 60 + 1)
    response = client.get(f"/connexion/lien/{old_login}")
    assert response.status_code == 410
    page = response.get_data(as_text=True)
    assert "Ce lien a expiré" in page and "15 minutes" in page and "Recevoir un nouveau lien" in page
    assert client.post(f"/connexion/lien/{old_login}").status_code == 410
    response = client.get(f"/connexion/invitation/{old_invite}")
    assert response.status_code == 410 and "7 jours" in response.get_data(as_text=True)
    assert client.get("/partenaires/").status_code == 302  # nobody logged in
    assert client.post(f"/connexion/lien/{fresh_login}").status_code == 302
    assert client.get("/partenaires/").status_code == 200


def test_tampered_or_misdirected_links_are_refused(client, world, db):
    partner = world["partner"]
    token = auth.make_link_token(partner, auth.LinkPurpose.login)
    payload, _, rest = token.partition(".")
    forged_payload = itsdangerous.URLSafeSerializer("x").dump_payload({"u": world["editor"].id, "f": "0"}).decode()
    tampered = [
        token[:-2] + ("AA" if not token.endswith("AA") else "BB"),   # the signature
        forged_payload + "." + rest,                                  # the payload
        itsdangerous.URLSafeTimedSerializer("not-our-key", salt="login-link").dumps({"u": partner.id, "f": "0"}),
        auth.make_link_token(partner, auth.LinkPurpose.invitation),  # an invitation is not a login link
        "n'importe-quoi",
    ]
    for bad in tampered:
        response = client.post(f"/connexion/lien/{bad}")
        assert response.status_code == 400, bad
        assert "Ce lien n'est pas valide" in response.get_data(as_text=True)
    assert client.get("/partenaires/").status_code == 302
    db.refresh(partner)
    assert partner.last_login_at is None


def test_a_login_link_works_once_and_dies_with_any_other_login(client, app, world, db, captured_jobs):
    client.post("/connexion/lien", data={"email": "amina@tilleuls.test"})
    run_login_link_jobs(db, captured_jobs)
    client.post("/connexion/lien", data={"email": "amina@tilleuls.test"})
    run_login_link_jobs(db, captured_jobs)
    first, second = (link_in(m.text_body, "lien") for m in outbox(db, "login_link"))
    page = client.get(first)
    assert page.status_code == 200 and "Me connecter" in page.get_data(as_text=True)
    assert client.post(first).status_code == 302
    assert client.get("/partenaires/").status_code == 200
    # Once used, it is spent — and so is the other link sent before that login.
    for spent in (first, second):
        response = app.test_client().post(spent)
        assert response.status_code == 410 and "Ce lien a déjà servi" in response.get_data(as_text=True)

    # A password login also spends an outstanding link.
    client.post("/deconnexion")
    client.post("/connexion/lien", data={"email": "amina@tilleuls.test"})
    run_login_link_jobs(db, captured_jobs)
    third = link_in(outbox(db, "login_link")[-1].text_body, "lien")
    login(app.test_client(), "amina@tilleuls.test", "mdp-partenaire")
    assert client.post(third).status_code == 410


def test_editors_log_in_by_link_too(client, world, db, captured_jobs):
    client.post("/connexion/lien", data={"email": "Redaction@Reaap.test"})
    run_login_link_jobs(db, captured_jobs)
    [mail] = outbox(db, "login_link")
    assert mail.to_addr == "redaction@reaap.test" and "15 minutes" in mail.text_body
    response = client.post(link_in(mail.text_body, "lien"))
    assert response.status_code == 302 and response.location == "/redaction/"


def test_inactive_accounts_cannot_log_in_by_any_means(client, world, db, captured_jobs):
    partner = world["partner"]
    client.post("/connexion/lien", data={"email": "amina@tilleuls.test"})
    run_login_link_jobs(db, captured_jobs)
    [mail] = outbox(db, "login_link")
    invite = auth.make_link_token(partner, auth.LinkPurpose.invitation)
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post(f"/redaction/structures/{world['tilleuls'].id}/comptes/{partner.id}/desactiver")
    assert response.status_code == 302
    client.post("/deconnexion")
    db.refresh(partner)
    assert partner.active is False

    response = client.post(link_in(mail.text_body, "lien"))
    assert response.status_code == 400 and "Ce compte est désactivé" in response.get_data(as_text=True)
    assert client.post(f"/connexion/invitation/{invite}", data={"action": "continue"}).status_code == 400
    page = client.post("/connexion", data={"email": "amina@tilleuls.test", "password": "mdp-partenaire"})
    assert "Adresse e-mail ou mot de passe incorrect" in page.get_data(as_text=True)
    client.post("/connexion/lien", data={"email": "amina@tilleuls.test"})
    run_login_link_jobs(db, captured_jobs)
    assert len(outbox(db, "login_link")) == 1  # no new link for a closed account
    assert client.get("/partenaires/").status_code == 302


def test_an_editor_can_reopen_a_closed_account_and_not_another_structures(client, world, db):
    partner, other = world["partner"], world["other"]
    partner.active = False
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    tilleuls = world["tilleuls"].id
    assert client.post(f"/redaction/structures/{tilleuls}/comptes/{other.id}/desactiver").status_code == 404
    assert client.post(f"/redaction/structures/{tilleuls}/comptes/{partner.id}/reactiver").status_code == 302
    db.refresh(partner)
    db.refresh(other)
    assert partner.active and other.active


# --- No account enumeration, rate limit, CSRF ---------------------------------------------------

def test_the_login_link_form_answers_the_same_whatever_the_address(client, world, db, captured_jobs):
    world["other"].active = False
    db.commit()
    answers = []
    for address in ("amina@tilleuls.test", "personne@nulle.part", "julien@asso.test", "redaction@reaap.test"):
        response = client.post("/connexion/lien", data={"email": address})
        answers.append((response.status_code, response.get_data(as_text=True)))
    assert answers[0][0] == 200 and "Si cette adresse correspond à un compte actif" in answers[0][1]
    assert all(answer == answers[0] for answer in answers)
    run_login_link_jobs(db, captured_jobs)
    assert [m.to_addr for m in outbox(db, "login_link")] == ["amina@tilleuls.test", "redaction@reaap.test"]
    page = client.get("/connexion").get_data(as_text=True)
    assert "Recevoir un lien de connexion" in page and 'href="/connexion/lien"' in page


def test_login_link_requests_are_rate_limited(db, world, captured_jobs):
    from core.extensions import limiter
    from parentalites.app import create_app
    previous = limiter.enabled  # the limiter is one object: leave it as other tests' apps set it
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True})
    limiter.reset()
    try:
        client = app.test_client()
        # Per address: three links per quarter of an hour, whoever asks.
        codes = [client.post("/connexion/lien", data={"email": "amina@tilleuls.test"}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        refused = client.post("/connexion/lien", data={"email": "amina@tilleuls.test"})
        assert "Trop de tentatives" in refused.get_data(as_text=True)
        run_login_link_jobs(db, captured_jobs)
        assert len(outbox(db, "login_link")) == 3
        # Per client: five requests a minute, whatever the addresses.
        limiter.reset()
        codes = [client.post("/connexion/lien", data={"email": f"p{i}@nulle.part"}).status_code for i in range(6)]
        assert codes == [200] * 5 + [429]
        assert client.get("/connexion/lien").status_code == 200  # showing the form is not limited
    finally:
        limiter.reset()
        limiter.enabled = previous


def test_these_forms_refuse_a_post_without_csrf_token(app, client, world, db, captured_jobs):
    app.config["WTF_CSRF_ENABLED"] = True  # the real setting
    partner = world["partner"]
    invite = auth.make_link_token(partner, auth.LinkPurpose.invitation)
    link = auth.make_link_token(partner, auth.LinkPurpose.login)
    assert client.post("/connexion/lien", data={"email": "amina@tilleuls.test"}).status_code == 400
    assert client.post(f"/connexion/lien/{link}").status_code == 400
    assert client.post(f"/connexion/invitation/{invite}", data={"action": "continue"}).status_code == 400
    db.refresh(partner)
    assert partner.last_login_at is None and outbox(db) == []
    # With the token of the page, the same link works.
    page = client.get(f"/connexion/lien/{link}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post(f"/connexion/lien/{link}", data={"csrf_token": token}).status_code == 302

    editor = app.test_client()
    page = editor.get("/connexion").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    editor.post("/connexion", data={"email": "redaction@reaap.test", "password": "mdp-redaction", "csrf_token": token})
    assert editor.get("/redaction/structures/").status_code == 200
    response = editor.post(f"/redaction/structures/{world['tilleuls'].id}/inviter",
                           data={"email": "lea@tilleuls.test", "name": "Léa"})
    assert response.status_code == 400 and "expiré" in response.get_data(as_text=True)
    assert editor.post("/redaction/structures/nouvelle", data={"name": "X", "kind": "autre"}).status_code == 400
    assert user_by_email(db, "lea@tilleuls.test") is None
    assert db.scalar(select(func.count(Structure.id))) == 2


# --- Partners see their structure's submissions only --------------------------------------------

def test_two_accounts_of_a_structure_share_its_submissions_and_others_get_403(client, app, world, db, captured_jobs):
    colleague = auth.create_user(db, "sami@tilleuls.test", "Sami Haddad", Role.partner, "mdp-collegue",
                                 world["tilleuls"].id)
    db.commit()
    draft = contributions.create(db, world["partner"], news("Brouillon d'Amina"), submit=False)
    sent = contributions.create(db, colleague, news("Envoi de Sami"))
    db.commit()
    login(client, "sami@tilleuls.test", "mdp-collegue")
    home = client.get("/partenaires/").get_data(as_text=True)
    assert "Brouillon d&#39;Amina" in home or "Brouillon d'Amina" in home
    assert "Envoi de Sami" in home
    assert client.get(f"/partenaires/contributions/{draft.id}").status_code == 200
    assert client.get(f"/partenaires/contributions/{draft.id}/modifier").status_code == 200

    outsider = app.test_client()
    login(outsider, "julien@asso.test", "mdp-autre")
    assert "Envoi de Sami" not in outsider.get("/partenaires/").get_data(as_text=True)
    for contribution in (draft, sent):
        assert outsider.get(f"/partenaires/contributions/{contribution.id}").status_code in (403, 404)
        assert outsider.get(f"/partenaires/contributions/{contribution.id}/modifier").status_code in (403, 404)
        assert outsider.post(f"/partenaires/contributions/{contribution.id}/retirer").status_code in (403, 404)
    db.expire_all()
    assert db.get(Contribution, draft.id).title == "Brouillon d'Amina"


# --- Command line -------------------------------------------------------------------------------

def test_cli_creates_a_structure_and_invites_a_partner(db, world, captured_jobs):
    from parentalites.cli import main
    runner = CliRunner()
    result = runner.invoke(main, ["structure", "create", "--name", "Centre social Alpha", "--kind", "centre_social",
                                  "--commune", "Pantin", "--feed-url", "https://alpha.example.org/feed"])
    assert result.exit_code == 0, result.output
    structure_id = int(re.search(r"Structure (\d+) créée", result.output).group(1))
    result = runner.invoke(main, ["structure", "create", "--name", "Beta", "--feed-url", "file:///etc/passwd"])
    assert result.exit_code != 0 and "http:// ou https://" in result.output

    result = runner.invoke(main, ["partner", "invite", "Paul@Alpha.test", "--structure", str(structure_id)])
    assert result.exit_code == 0, result.output
    assert "Invitation envoyée à paul@alpha.test" in result.output
    paul = user_by_email(db, "paul@alpha.test")
    assert (paul.structure_id, paul.role, paul.name) == (structure_id, Role.partner, "Paul")
    [mail] = outbox(db, "partner_invitation")
    assert mail.to_addr == "paul@alpha.test" and "Centre social Alpha" in mail.subject

    result = runner.invoke(main, ["partner", "invite", "julien@asso.test", "--structure", str(structure_id)])
    assert result.exit_code != 0 and "autre structure" in result.output
    result = runner.invoke(main, ["partner", "invite", "x@alpha.test", "--structure", "999999"])
    assert result.exit_code != 0 and "Aucune structure 999999" in result.output
