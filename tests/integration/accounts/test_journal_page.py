"""The journal page (/redaction/journal, issue 11 item 8): the editors' actions recorded with the
action itself, shown newest first, filtered by person, action, target and date, paginated, as CSV."""
from __future__ import annotations

import html
from datetime import timedelta

from sqlalchemy import select

from accounts import journal
from accounts.models import JournalEntry
from contributions import services as contributions
from contributions.models import ContributionKind
from core.db import utcnow
from core.formatting import PARIS
from subscribers.models import Subscriber, SubscriberStatus
from tests.integration.events.test_redaction import FORM as EVENT_FORM
from tests.integration.helpers import compose, login


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def entries(db) -> list[JournalEntry]:
    db.expire_all()
    return list(db.scalars(select(JournalEntry).order_by(JournalEntry.id)))


def test_editor_actions_are_journaled_with_who_what_and_target(client, db, world, captured_jobs):
    contribution = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title="Café des parents", body_md="Chaque jeudi."))
    gone = Subscriber(email="zoe@exemple.org", name="Zoé", status=SubscriberStatus.active)
    bounced = Subscriber(email="rebond@exemple.org", name="Rebond", status=SubscriberStatus.suppressed,
                         suppressed_reason="rebond permanent")
    db.add_all([gone, bounced])
    db.commit()
    issue = compose(db, world, numero=7, articles=0)
    login(client, "redaction@reaap.test", "mdp-redaction")

    assert client.post(f"/redaction/moderation/{contribution.id}", data={
        "decision": "rejected", "comment": "Hors sujet pour la lettre."}).status_code == 302
    assert client.post(f"/redaction/numeros/{issue.id}/test", data={"address": "test@exemple.org"}).status_code == 302
    assert client.post("/redaction/evenements/nouveau", data=EVENT_FORM).status_code == 302
    assert client.post(f"/redaction/abonnes/{bounced.id}/lever-suspension",
                       data={"reason": "L'adresse fonctionne de nouveau (appel du 2 décembre)."}).status_code == 302
    assert client.get(f"/redaction/abonnes/{gone.id}/donnees").status_code == 200
    assert client.post(f"/redaction/abonnes/{gone.id}/effacer",
                       data={"note": "Courriel du 2 décembre, réf. 14"}).status_code == 302

    lines = entries(db)
    assert [e.action for e in lines] == ["contribution.rejected", "letter.test_sent", "event.created",
                                         "subscriber.suppression_lifted", "privacy.exported", "privacy.erased"]
    assert all(e.actor_email == "redaction@reaap.test" for e in lines)
    assert lines[0].target == f"contribution:{contribution.id}" and "Hors sujet" in lines[0].summary
    assert lines[1].target == f"issue:{issue.id}" and "lettre n°7" in lines[1].summary
    assert lines[2].summary.startswith("Événement créé : « Soirée-rencontre : les écrans en famille »")
    # The erasure leaves no address behind, in the journal either.
    assert not any("zoe@exemple.org" in e.summary for e in lines)

    page = text(client.get("/redaction/journal/"))
    assert "6 actions" in page and "Contribution refusée" in page and "RGPD : données effacées" in page
    table = page[page.index("<tbody>"):]
    assert table.index("RGPD : données effacées") < table.index("Contribution refusée")  # newest first


def test_filters_pagination_and_csv(client, db, world):
    editor, partner = world["editor"], world["partner"]
    now = utcnow()
    for n in range(60):
        entry = journal.record(db, editor, "contribution.accepted", f"Contribution acceptée : n°{n}",
                               target=f"contribution:{n}")
        entry.at = now - timedelta(days=n)
    journal.record(db, None, "retention.purged", "=SOMME(A1)", target="subscriber:3")
    journal.record(db, partner, "contribution.rejected", "Refus", target="contribution:999")
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")

    page = text(client.get("/redaction/journal/"))
    assert "62 actions" in page and "Page 1 sur 2" in page
    page2 = text(client.get("/redaction/journal/?page=2"))
    assert "Contribution acceptée : n°59" in page2 and "Contribution acceptée : n°0" not in page2

    by_person = text(client.get("/redaction/journal/?person=amina@tilleuls.test"))
    assert "1 action" in by_person and "Refus" in by_person
    platform = text(client.get("/redaction/journal/?person=plateforme"))
    assert "1 action" in platform and "=SOMME(A1)" in platform
    by_action = text(client.get("/redaction/journal/?action=contribution.accepted"))
    assert "60 actions" in by_action
    one = text(client.get("/redaction/journal/?target=contribution:12"))
    assert "1 action" in one and "n°12" in one
    kind = text(client.get("/redaction/journal/?target=contribution"))
    assert "61 actions" in kind
    day = (now - timedelta(days=3)).astimezone(PARIS).date().isoformat()
    dated = text(client.get(f"/redaction/journal/?since={day}&until={day}&action=contribution.accepted"))
    assert "1 action" in dated and "n°3" in dated
    bad = client.get("/redaction/journal/?since=pas-une-date")
    assert bad.status_code == 200 and "0 action" in text(bad)

    csv = client.get("/redaction/journal/journal.csv?target=subscriber")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    body = csv.get_data(as_text=True)
    assert body.splitlines()[1].endswith(";'=SOMME(A1)")  # never a formula in a spreadsheet
    assert len(body.splitlines()) == 2


def test_partners_do_not_see_the_journal(client, db, world):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.get("/redaction/journal/").status_code == 403
    assert client.get("/redaction/journal/journal.csv").status_code == 403
