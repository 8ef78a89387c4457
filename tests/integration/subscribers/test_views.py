"""The subscription form answers alike whatever the address (new, subscribed, suppressed)."""
from __future__ import annotations

from subscribers.models import Subscriber, SubscriberStatus


def test_subscribing_answers_the_same_bytes_and_renders_one_email_whatever_the_address(app, db, captured_jobs,
                                                                                      monkeypatch):
    import mailing.templates
    db.add_all([Subscriber(email="abonnee@exemple.org", name="A", status=SubscriberStatus.active),
                Subscriber(email="supprimee@exemple.org", name="S", status=SubscriberStatus.suppressed)])
    db.commit()
    compiled: list[str] = []
    real = mailing.templates.compile_mjml
    monkeypatch.setattr(mailing.templates, "compile_mjml",
                        lambda source, name="?": compiled.append(name) or real(source, name))
    answers = []
    for address in ("nouvelle@exemple.org", "abonnee@exemple.org", "supprimee@exemple.org"):
        compiled.clear()
        response = app.test_client().post("/abonnement", data={"email": address, "name": "Zoé", "consent": "y"})
        answers.append((response.status_code, response.headers.get("Location"), response.get_data(), len(compiled)))
    assert answers[0][0] == 302 and answers[0][3] == 1
    assert answers[1] == answers[0] and answers[2] == answers[0]
