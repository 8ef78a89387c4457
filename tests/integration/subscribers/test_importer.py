"""Importing subscribers on PostgreSQL: statuses and proofs per legal basis, nobody brought back,
re-imports that change nothing, two imports at once, the command line, the editors' pages, and
the confirmation and welcome mails through a real worker and SMTP server."""
from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from collections import Counter

from sqlalchemy import func, select

from mailing.models import Delivery
from newsletter.models import Issue, IssueKind, IssueStatus
from subscribers import services
from subscribers.importer import import_file
from subscribers.models import (
    ConsentRecord,
    LegalBasis,
    Subscriber,
    SubscriberEvent,
    SubscriberImport,
    SubscriberStatus,
    SuppressedHash,
)
from subscribers.privacy import address_hash
from tests.conftest import ROOT
from tests.integration.helpers import login, outbox, run_concurrently, wait_for

HEADER = "Courriel;Nom;Structure;Thèmes;Rôle;Commune;Département;Base légale;Date du consentement;Source\n"
SAMPLE = (HEADER
          + "anne@example.org;Anne Roy;CS Tilleuls;Réaap|CLAS;Référent·e CLAS;Bondy;93;;12/03/2024;Salon 2024\n"
          + "bruno@example.org;Bruno Petit;Mairie;CLAS;Élu·e;Pantin;Seine-Saint-Denis;intérêt légitime;;\n"
          + "chloe@example.org;Chloé Martin;;;;;;;;\n"
          + "dora@example.org;Dora;;Jardinage;;;;;;\n"
          + "ANNE@example.org;Anne encore;;;;;;;;\n")


def subscriber(db, email: str) -> Subscriber:
    db.expire_all()
    found = db.scalar(select(Subscriber).where(Subscriber.email == email))
    assert found is not None, email
    return found


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model)) or 0


def test_each_legal_basis_gives_its_status_and_proof(db, captured_jobs):
    plan = import_file(db, SAMPLE.encode(), "reseau.csv", actor="redaction@reaap.test")
    db.commit()
    assert plan.summary == "imported: 3, updated: 0, unchanged: 0, skipped: 2"
    assert [(r.line, r.reason[:15]) for r in plan.skipped] == [(5, "thème inconnu :"), (6, "adresse déjà pr")]

    anne = subscriber(db, "anne@example.org")
    assert (anne.status, anne.legal_basis, anne.topics, anne.role, anne.departement) == (
        SubscriberStatus.active, LegalBasis.consent, ["clas", "parentalite"], "referent_clas", "93")
    [proof] = anne.consents
    assert (proof.action, proof.source) == ("import", "import")
    assert proof.at.isoformat() == "2024-03-11T23:00:00+00:00"  # midnight in Paris
    assert proof.details["file"] == "reseau.csv" and proof.details["editor"] == "redaction@reaap.test"
    assert proof.details["source"] == "Salon 2024" and proof.details["imported_at"]

    bruno = subscriber(db, "bruno@example.org")
    assert (bruno.status, bruno.legal_basis, bruno.departement) == (
        SubscriberStatus.active, LegalBasis.legitimate_interest, "93")
    assert bruno.consents == []

    chloe = subscriber(db, "chloe@example.org")
    assert (chloe.status, chloe.legal_basis, chloe.confirmed_at) == (SubscriberStatus.pending, None, None)

    events = db.execute(select(SubscriberEvent.subscriber_id, SubscriberEvent.detail, SubscriberEvent.actor)).all()
    assert {(sid, actor) for sid, _, actor in events} == {(s.id, "redaction@reaap.test") for s in (anne, bruno, chloe)}
    assert all(detail.startswith("importé depuis reseau.csv") for _, detail, _ in events)
    assert db.scalar(select(SubscriberImport.counts)) == plan.counts()

    # The pending one is asked to confirm, the legitimate-interest one welcomed: each through a
    # mail-out of its own kind, planned for exactly them, started after COMMIT.
    campaigns = {i.kind: i for i in db.scalars(select(Issue))}
    assert set(campaigns) == {IssueKind.confirmation, IssueKind.welcome}
    planned = {kind: set(db.scalars(select(Delivery.subscriber_id).where(Delivery.issue_id == issue.id)))
               for kind, issue in campaigns.items()}
    assert planned == {IssueKind.confirmation: {chloe.id}, IssueKind.welcome: {bruno.id}}
    assert all(i.status is IssueStatus.scheduled and i.numero is None for i in campaigns.values())
    assert Counter(name for name, _ in captured_jobs) == {"tasks.mailout.start_mailout": 2}
    assert outbox(db) == []  # nothing through the outbox: 50,000 confirmations would not be throttled


def test_reimporting_the_same_file_changes_nothing(db, captured_jobs):
    import_file(db, SAMPLE.encode(), "reseau.csv")
    db.commit()
    before = (count(db, Subscriber), count(db, ConsentRecord), count(db, Delivery), count(db, Issue))
    again = import_file(db, SAMPLE.encode(), "reseau.csv")
    db.commit()
    assert again.summary == "imported: 0, updated: 0, unchanged: 3, skipped: 2"
    assert (count(db, Subscriber), count(db, ConsentRecord), count(db, Delivery), count(db, Issue)) == before


def test_existing_subscribers_are_updated_only_with_what_differs(db, captured_jobs):
    import_file(db, SAMPLE.encode(), "reseau.csv")
    db.commit()
    changed = (HEADER + "anne@example.org;Anne Roy;CS Tilleuls;CLAS;;Montreuil;;;;\n"
               + "bruno@example.org;;;;;;;;;\n"
               + "chloe@example.org;Chloé Martin;Collège Jean Jaurès;;;;;consentement;01/01/2025;\n")
    plan = import_file(db, changed.encode(), "mise-a-jour.csv", actor="redaction@reaap.test")
    db.commit()
    assert plan.summary == "imported: 0, updated: 2, unchanged: 1, skipped: 0"
    anne = subscriber(db, "anne@example.org")
    assert (anne.topics, anne.commune, anne.role, anne.departement) == (["clas"], "Montreuil", "referent_clas", "93")
    chloe = subscriber(db, "chloe@example.org")
    # Status is not the import's to change for an existing subscriber: still asked to confirm.
    assert (chloe.structure_name, chloe.status) == ("Collège Jean Jaurès", SubscriberStatus.pending)
    details = set(db.scalars(select(SubscriberEvent.detail).where(SubscriberEvent.kind == "import_updated")))
    assert details == {"mis à jour par l'import de mise-a-jour.csv : thèmes, commune",
                       "mis à jour par l'import de mise-a-jour.csv : structure"}


def test_nobody_who_left_or_was_suppressed_is_brought_back(db, captured_jobs):
    left = Subscriber(email="parti@example.org", name="Parti", status=SubscriberStatus.unsubscribed)
    blocked = Subscriber(email="bloque@example.org", status=SubscriberStatus.suppressed, suppressed_reason="5.1.1")
    db.add_all([left, blocked, SuppressedHash(address_hash=address_hash("efface@example.org"), reason="complaint")])
    db.commit()
    text = (HEADER + "parti@example.org;Parti;;;;;;;12/03/2024;\n"
            + "Bloque@Example.org;;;;;;;intérêt légitime;;\n"
            + "efface@example.org;Effacé;;;;;;intérêt légitime;;\n")
    plan = import_file(db, text.encode(), "ancien.csv")
    db.commit()
    assert plan.summary == "imported: 0, updated: 0, unchanged: 0, skipped: 3"
    reasons = {r.email: r.reason for r in plan.skipped}
    assert "ne réabonne jamais" in reasons["parti@example.org"]
    assert "ne la réactive jamais" in reasons["bloque@example.org"]
    assert "ne recevra plus jamais rien" in reasons["efface@example.org"]
    assert subscriber(db, "parti@example.org").status is SubscriberStatus.unsubscribed
    assert subscriber(db, "bloque@example.org").status is SubscriberStatus.suppressed
    assert db.scalar(select(Subscriber).where(Subscriber.email == "efface@example.org")) is None
    assert count(db, ConsentRecord) == 0 and count(db, Issue) == 0


def test_two_imports_of_the_same_file_at_once_create_each_subscriber_once(db, captured_jobs):
    rows = "".join(f"pro{i}@example.org;Pro {i};;;;;;;{'01/02/2024' if i % 2 else ''};\n" for i in range(300))
    raw = (HEADER + rows).encode()

    def work(session, index):
        plan = import_file(session, raw, f"copie-{index}.csv")
        session.commit()
        return plan.counts()

    results = run_concurrently(work, 2)
    assert count(db, Subscriber) == 300
    assert db.scalar(select(func.count(func.distinct(Subscriber.email)))) == 300
    assert count(db, ConsentRecord) == 150  # one proof each, never two
    assert sum(r["imported"] for r in results) == 300
    assert sum(r["imported"] + r["unchanged"] + r["updated"] for r in results) == 600
    # Each pending subscriber is asked to confirm once.
    assert db.scalar(select(func.count(Delivery.id)).join(Issue).where(Issue.kind == IssueKind.confirmation)) == 150


def test_rows_another_import_created_meanwhile_are_judged_again_as_existing(db, captured_jobs):
    """The race, step by step: this import judged the rows new, another one wrote them first."""
    from core.db import SessionFactory
    from subscribers.importer import apply, classify, parse
    plan = classify(db, parse(SAMPLE.encode(), "lent.csv"))
    assert len(plan.new) == 3
    other = SessionFactory()
    try:
        import_file(other, SAMPLE.encode(), "rapide.csv")
        other.commit()
    finally:
        other.close()
    result = apply(db, plan)
    db.commit()
    assert plan.summary == "imported: 0, updated: 0, unchanged: 3, skipped: 2"
    assert (result.pending_ids, result.welcome_ids) == ([], [])
    assert count(db, Subscriber) == 3 and count(db, ConsentRecord) == 1 and count(db, Issue) == 2


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "parentalites.cli", "subscribers", "import", *args], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_the_command_prints_each_refused_row_then_the_counts(db, tmp_path):
    path = tmp_path / "reseau.csv"
    path.write_bytes(SAMPLE.encode("cp1252"))
    dry = run_cli(str(path), "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert dry.stdout.splitlines()[-1] == "imported: 3, updated: 0, unchanged: 0, skipped: 2"
    assert count(db, Subscriber) == 0 and count(db, SubscriberImport) == 0  # a dry run writes nothing

    first = run_cli(str(path))
    assert first.returncode == 0, first.stderr[-2000:]
    assert first.stdout.splitlines() == [
        "ligne 5 : thème inconnu : « Jardinage » (thèmes possibles : Réaap, CLAS, Petite enfance, Adolescence, "
        "Parents et écrans, Santé) (dora@example.org)",
        "ligne 6 : adresse déjà présente ligne 2 du fichier : seule la première ligne compte (anne@example.org)",
        "imported: 3, updated: 0, unchanged: 0, skipped: 2"]
    assert "Windows-1252" in first.stderr
    assert subscriber(db, "chloe@example.org").name == "Chloé Martin"
    again = run_cli(str(path))
    assert again.stdout.splitlines()[-1] == "imported: 0, updated: 0, unchanged: 3, skipped: 2"

    png = tmp_path / "photo.csv"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    refused = run_cli(str(png))
    assert refused.returncode == 1 and "Ce fichier est une image, pas un CSV." in refused.stderr


# --- The editors' pages ----------------------------------------------------------------------------

def upload(client, content: bytes, name: str = "reseau.csv"):
    return client.post("/redaction/abonnes/import/", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def test_upload_preview_then_confirm(client, db, world, captured_jobs):
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = upload(client, SAMPLE.encode())
    assert response.status_code == 302
    preview = client.get(response.location)
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200
    assert count(db, Subscriber) == 0  # nothing written before the confirmation
    assert re.search(r"<strong>3</strong> nouveaux abonnés \(2 actifs, 1 en attente de confirmation\)", page)
    assert "<strong>2</strong> lignes refusées" in page
    assert "thème inconnu : « Jardinage »" in page and "en attente : recevra une demande de confirmation" in page
    record = db.scalar(select(SubscriberImport))
    assert record.status == "preview" and record.actor == "redaction@reaap.test"
    from core.settings import get_settings
    kept = get_settings().data_dir / "imports" / f"{record.token}.csv"
    assert kept.read_bytes() == SAMPLE.encode()

    done = client.post(f"/redaction/abonnes/import/{record.token}/confirmer")
    assert done.status_code == 302 and done.location.endswith("/resultat")
    assert client.post(f"/redaction/abonnes/import/{record.token}/confirmer").status_code == 302  # a double click
    result = client.get(done.location).get_data(as_text=True)
    assert "<strong>3</strong> nouveaux abonnés" in result and "thème inconnu" in result
    assert count(db, Subscriber) == 3 and count(db, Issue) == 2  # imported once
    assert not kept.exists()
    db.expire_all()
    assert db.scalar(select(SubscriberImport.status)) == "done"
    proof = subscriber(db, "anne@example.org").consents[0]
    assert proof.details["editor"] == "redaction@reaap.test"


def test_a_file_that_cannot_be_imported_is_refused_with_its_reason(client, db, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    xlsx = upload(client, b"PK\x03\x04" + b"\x00" * 100, "liste.xlsx")
    assert xlsx.status_code == 422 and "classeur Excel" in xlsx.get_data(as_text=True)
    missing = upload(client, b"nom;structure\nAnne;CS\n")
    assert missing.status_code == 422 and "« email »" in missing.get_data(as_text=True)
    big = upload(client, b"email;nom\n" + b"a@example.org;" + b"x" * (11 * 1_048_576) + b"\n")
    assert big.status_code == 413 and "la limite est de 10 Mo" in big.get_data(as_text=True)
    assert count(db, SubscriberImport) == 0 and count(db, Subscriber) == 0


def test_only_editors_import(client, db, world):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert upload(client, SAMPLE.encode()).status_code == 403
    assert count(db, Subscriber) == 0


# --- The mails, for real -----------------------------------------------------------------------------

def test_confirmation_and_welcome_mails_reach_the_server_and_the_link_confirms(client, db, smtp, celery_worker):
    import_file(db, SAMPLE.encode(), "reseau.csv", actor="redaction@reaap.test")
    db.commit()

    def sent():
        db.expire_all()
        return all(i.status is IssueStatus.sent for i in db.scalars(select(Issue))) and len(smtp.messages) >= 2
    wait_for(sent, 90, message="the confirmation and welcome mail-outs")
    by_address = {m.recipients[0]: m.message for m in smtp.messages}
    assert set(by_address) == {"bruno@example.org", "chloe@example.org"}  # anne had consented: no mail
    welcome = by_address["bruno@example.org"]
    assert welcome["Subject"] == "Bienvenue dans la lettre Parentalités"
    text = welcome.get_body(("plain",)).get_content()
    bruno = subscriber(db, "bruno@example.org")
    assert "Bonjour Bruno Petit," in text
    assert f"https://parentalites.test/preferences/{bruno.unsubscribe_token}" in text
    assert f"https://parentalites.test/desabonnement/{bruno.unsubscribe_token}" in text
    # The link names the delivery, so that the statistics count the unsubscribes of each mail-out.
    assert re.fullmatch(rf"<https://parentalites\.test/desabonnement/{bruno.unsubscribe_token}\?envoi=\d+>",
                        welcome["List-Unsubscribe"])

    ask = by_address["chloe@example.org"]
    assert ask["Subject"] == "Souhaitez-vous recevoir la lettre Parentalités ?"
    link = re.search(r"https://parentalites\.test(/abonnement/valider/[\w-]+)", ask.get_body(("plain",)).get_content())
    assert link, ask.get_body(("plain",)).get_content()
    page = client.get(link.group(1))
    assert page.status_code == 200 and "Confirmer mon abonnement" in page.get_data(as_text=True)
    assert subscriber(db, "chloe@example.org").status is SubscriberStatus.pending  # a GET never confirms

    smtp.messages.clear()
    done = client.post(link.group(1), headers={"User-Agent": "Firefox/140"},
                       environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert done.status_code == 200 and "Abonnement confirmé" in done.get_data(as_text=True)
    chloe = subscriber(db, "chloe@example.org")
    assert (chloe.status, chloe.legal_basis) == (SubscriberStatus.active, LegalBasis.consent)
    [proof] = chloe.consents
    assert (proof.action, proof.ip, proof.user_agent, proof.wording) == (
        "confirm", "198.51.100.7", "Firefox/140", services.CONSENT_WORDING)
    assert f"/preferences/{chloe.unsubscribe_token}" in done.get_data(as_text=True)
    # Then the welcome mail, through the outbox.
    wait_for(lambda: any(m.recipients == ["chloe@example.org"] for m in smtp.messages), 60, message="the welcome")
    [welcome] = [m.message for m in smtp.messages if m.recipients == ["chloe@example.org"]]
    assert welcome["Subject"] == "Bienvenue dans la lettre Parentalités"
    assert client.post(link.group(1)).status_code == 200  # again: "already confirmed", nothing more
    assert len(subscriber(db, "chloe@example.org").consents) == 1


def test_a_double_opt_in_confirmation_sends_the_welcome_and_links_to_the_preferences(client, db, smtp, celery_worker):
    services.subscribe(db, "eve@example.org", "Ève")
    db.commit()
    [ask] = outbox(db, "subscription_confirm")
    path = re.search(r"https://parentalites\.test(/abonnement/confirmer/[\w.-]+)", ask.text_body).group(1)
    page = client.get(path)
    eve = subscriber(db, "eve@example.org")
    assert page.status_code == 200 and f"/preferences/{eve.unsubscribe_token}" in page.get_data(as_text=True)
    assert eve.legal_basis is LegalBasis.consent and eve.last_activity_at is not None
    wait_for(lambda: any(m.message["Subject"] == "Bienvenue dans la lettre Parentalités" for m in smtp.messages), 60,
             message="the welcome mail")
    [welcome] = [m for m in smtp.messages if m.message["Subject"] == "Bienvenue dans la lettre Parentalités"]
    assert welcome.recipients == ["eve@example.org"]
    text = welcome.message.get_body(("plain",)).get_content()
    assert "Bonjour Ève," in text and f"/preferences/{eve.unsubscribe_token}" in text


def test_a_forged_confirmation_link_confirms_nobody(client, db):
    assert client.get("/abonnement/valider/pas-un-jeton").status_code == 404
    assert client.post("/abonnement/valider/pas-un-jeton").status_code == 404


def test_the_editors_can_follow_an_import_mail_out_on_the_issue_page(client, db, world, captured_jobs):
    import_file(db, SAMPLE.encode(), "reseau.csv")
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    for issue in db.scalars(select(Issue)):
        page = client.get(f"/redaction/numeros/{issue.id}")
        assert page.status_code == 200, page.get_data(as_text=True)[:2000]
        assert "abonnés importés (reseau.csv)" in page.get_data(as_text=True)
