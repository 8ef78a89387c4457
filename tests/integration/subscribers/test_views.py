"""The subscription form answers alike whatever the address (new, pending, subscribed, suppressed):
the same bytes, the same SQL, one job with the same shape; the worker does the rest."""
from __future__ import annotations

from sqlalchemy import event, func, select

from core.db import get_engine
from mailing.models import OutboundEmail
from subscribers import services
from subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from tests.integration.helpers import run_subscribe_jobs, subscribe_job

KINDS = {"new": "nouvelle@exemple.org", "pending": "attente@exemple.org", "active": "abonnee@exemple.org",
         "suppressed": "supprimee@exemple.org"}


def test_subscribing_answers_the_same_bytes_and_enqueues_one_job_whatever_the_address(app, db, captured_jobs,
                                                                                      monkeypatch):
    import mailing.templates
    services.subscribe(db, KINDS["pending"], "P")
    db.add_all([Subscriber(email=KINDS["active"], name="A", status=SubscriberStatus.active),
                Subscriber(email=KINDS["suppressed"], name="S", status=SubscriberStatus.suppressed)])
    db.commit()
    del captured_jobs[:]
    compiled: list[str] = []
    real = mailing.templates.compile_mjml
    monkeypatch.setattr(mailing.templates, "compile_mjml",
                        lambda source, name="?": compiled.append(name) or real(source, name))
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)
    event.listen(get_engine(), "before_cursor_execute", record)
    answers, jobs = {}, {}
    try:
        for kind, address in KINDS.items():
            compiled.clear()
            statements.clear()
            response = app.test_client().post("/abonnement", data={"email": address.upper(), "name": "Zoé",
                                                                   "structure": "CLAS", "consent": "y"})
            answers[kind] = (response.status_code, response.headers.get("Location"), response.get_data(),
                             list(statements), len(compiled))
            jobs[kind] = list(captured_jobs)
            del captured_jobs[:]
    finally:
        event.remove(get_engine(), "before_cursor_execute", record)
    assert answers["new"][:2] == (302, "/abonnement/verifiez-vos-e-mails")
    assert answers["new"][4] == 0  # no e-mail rendered while the visitor waits
    for kind in KINDS:
        assert answers[kind] == answers["new"], kind  # same status, same bytes, same SQL, nothing rendered
        assert jobs[kind] == [subscribe_job(KINDS[kind], "Zoé", "CLAS")], kind  # one job, the normalised address

    # The worker's part: what each address gets goes to its mailbox only.
    for kind in KINDS:
        captured_jobs.append(jobs[kind][0])
    run_subscribe_jobs(db, captured_jobs)
    by_address = {s.email: s for s in db.scalars(select(Subscriber))}
    assert by_address[KINDS["new"]].status is SubscriberStatus.pending
    assert (by_address[KINDS["new"]].name, by_address[KINDS["new"]].structure_name) == ("Zoé", "CLAS")
    assert by_address[KINDS["pending"]].name == "P"  # an anonymous form does not overwrite it
    assert by_address[KINDS["active"]].status is SubscriberStatus.active
    assert by_address[KINDS["suppressed"]].status is SubscriberStatus.suppressed
    mails = {(m.to_addr, m.template) for m in db.scalars(select(OutboundEmail))}
    assert mails == {(KINDS["new"], "subscription_confirm"), (KINDS["pending"], "subscription_confirm"),
                     (KINDS["active"], "subscription_exists")}
    assert db.scalar(select(func.count(OutboundEmail.id)).where(OutboundEmail.to_addr == KINDS["pending"])) == 1
    consent = db.scalar(select(ConsentRecord).where(ConsentRecord.subscriber_id == by_address[KINDS["new"]].id))
    assert (consent.action, consent.ip, consent.user_agent.startswith("Werkzeug/")) == ("subscribe", "127.0.0.1",
                                                                                      True)


def test_a_posted_subscription_reaches_the_mailbox_through_a_real_worker(app, db, smtp, celery_worker):
    from tests.integration.helpers import wait_for
    response = app.test_client().post("/abonnement", data={"email": "Camille.Worker@Example.org",
                                                           "name": "Camille", "consent": "y"})
    assert (response.status_code, response.location) == (302, "/abonnement/verifiez-vos-e-mails")
    [received] = wait_for(lambda: smtp.to("camille.worker@example.org"), message="the confirmation e-mail")
    assert "/abonnement/confirmer/" in received.message.get_body(("plain",)).get_content()
    db.expire_all()
    subscriber = db.scalar(select(Subscriber).where(Subscriber.email == "camille.worker@example.org"))
    assert subscriber.status is SubscriberStatus.pending and subscriber.name == "Camille"
