"""The editor's issue page around a send (issue 13, item 20)."""
from __future__ import annotations

import html

from newsletter.models import Issue, IssueStatus
from tests.integration.helpers import compose, login, people


def test_send_now_shows_the_sending_state_and_progress_at_once(client, db, world, captured_jobs):
    """No worker takes the job (captured): the issue stays requested (scheduled for now). The page
    already says it is being sent, with the progress box, refreshing itself without JavaScript, and
    neither the send box nor « Déprogrammer »."""
    people(db, 3)
    issue = compose(db, world)
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post(f"/redaction/numeros/{issue.id}/envoyer", data={"confirm": "1", "expected": "3"},
                           follow_redirects=True)
    db.expire_all()
    assert db.get(Issue, issue.id).status is IssueStatus.scheduled  # waiting for a worker
    page = html.unescape(response.get_data(as_text=True))
    assert "Envoi lancé" in page
    assert "En cours d'envoi" in page and "Programmé" not in page
    assert "Déprogrammer" not in page
    assert "Envoyer maintenant" not in page and "Programmer l'envoi" not in page and "Envoyer un test" not in page
    assert 'id="mailout-progress"' in page and "Préparation de l'envoi à 3 destinataires" in page
    assert '<meta http-equiv="refresh"' in page  # inside <noscript>: refreshes without JavaScript
    # The JSON the script polls says the same.
    assert client.get(f"/redaction/numeros/{issue.id}/progression.json").get_json()["status"] == "starting"


def test_a_future_schedule_still_offers_to_unschedule(client, db, world):
    from datetime import timedelta

    from core.db import utcnow
    from newsletter import mailout
    issue = compose(db, world)
    mailout.request_send(db, issue, utcnow() + timedelta(days=2))
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = html.unescape(client.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True))
    assert "Programmé" in page and "Déprogrammer" in page and 'http-equiv="refresh"' not in page


def test_a_send_no_worker_has_started_says_so_and_can_be_unscheduled(client, db, world, captured_jobs):
    from datetime import timedelta

    from core.db import utcnow
    from newsletter import mailout
    issue = compose(db, world)
    mailout.request_send(db, issue)
    issue.scheduled_at = utcnow() - timedelta(minutes=5)
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = html.unescape(client.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True))
    assert "n'a toujours pas démarré" in page and "Déprogrammer" in page
    client.post(f"/redaction/numeros/{issue.id}/deprogrammer")
    db.expire_all()
    assert db.get(Issue, issue.id).status is IssueStatus.draft
