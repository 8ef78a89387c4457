"""Subscription, double opt-in and one-click unsubscribe (services and public pages)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from mailing.models import OutboundEmail
from subscribers import services
from subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from tests.integration.helpers import run_subscribe_jobs


def confirm_link(outbound: OutboundEmail) -> str:
    match = re.search(r"https://parentalites\.test(/abonnement/confirmer/[\w.-]+)", outbound.text_body)
    assert match, outbound.text_body
    return match.group(1)


def outbox(db, template: str | None = None) -> list[OutboundEmail]:
    query = select(OutboundEmail).order_by(OutboundEmail.id)
    if template:
        query = query.where(OutboundEmail.template == template)
    return list(db.scalars(query))


def test_subscribe_records_consent_and_queues_the_confirmation(db, captured_jobs):
    services.subscribe(db, "  Marie.Dupont@Example.ORG ", "Marie Dupont", "CLAS Bondy",
                       request=services.Request(ip="198.51.100.4", user_agent="Firefox"))
    db.commit()
    subscriber = db.scalar(select(Subscriber))
    assert subscriber.email == "marie.dupont@example.org"
    assert subscriber.status is SubscriberStatus.pending
    consent = db.scalar(select(ConsentRecord))
    assert (consent.action, consent.ip, consent.wording) == ("subscribe", "198.51.100.4", services.CONSENT_WORDING)
    [mail] = outbox(db, "subscription_confirm")
    assert mail.to_addr == "marie.dupont@example.org"
    assert "/abonnement/confirmer/" in mail.html_body and confirm_link(mail)
    assert captured_jobs == [("tasks.mail.send_outbound", (mail.id,))]


@pytest.mark.parametrize("address", ["", "pas-une-adresse", "a@b", "marie@@example.org", "marie@exa mple.org",
                                     "<script>@example.org", "x" * 300 + "@example.org"])
def test_invalid_address_is_refused_and_nothing_is_stored(db, captured_jobs, address):
    with pytest.raises(services.InvalidEmail):
        services.subscribe(db, address, "Marie")
    assert db.scalar(select(func.count(Subscriber.id))) == 0
    assert captured_jobs == []


def test_web_form_shows_a_clear_error_for_an_invalid_address(client, db, captured_jobs):
    response = client.post("/abonnement", data={"email": "marie@", "name": "Marie", "consent": "y"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Adresse e-mail invalide" in page and 'aria-invalid="true"' in page
    assert 'value="Marie"' in page  # what was typed is kept
    assert db.scalar(select(func.count(Subscriber.id))) == 0 and captured_jobs == []


def test_web_form_requires_explicit_consent(client, db, captured_jobs):
    response = client.post("/abonnement", data={"email": "marie@example.org", "name": "Marie"})
    assert response.status_code == 422
    assert "Cochez la case" in response.get_data(as_text=True)
    assert db.scalar(select(func.count(Subscriber.id))) == 0 and captured_jobs == []


def test_double_subscription_creates_no_duplicate_and_answers_the_same(client, db, captured_jobs):
    form = {"email": "marie@example.org", "name": "Marie", "consent": "y"}
    first = client.post("/abonnement", data=form)
    run_subscribe_jobs(db, captured_jobs)
    sub = db.scalar(select(Subscriber))
    services.confirm(db, confirm_link(outbox(db, "subscription_confirm")[0]).rsplit("/", 1)[1])
    db.commit()
    second = client.post("/abonnement", data={**form, "email": "MARIE@example.org"})
    run_subscribe_jobs(db, captured_jobs)
    # Same answer whether the address was unknown or already subscribed: nothing leaks.
    assert ((first.status_code, first.location) == (second.status_code, second.location)
            == (302, "/abonnement/verifiez-vos-e-mails"))
    assert db.scalar(select(func.count(Subscriber.id))) == 1
    db.refresh(sub)
    assert sub.status is SubscriberStatus.active
    # The difference goes to the mailbox only.
    # (the welcome mail follows the confirmation, issue 10 item 5)
    assert [m.template for m in outbox(db)] == ["subscription_confirm", "subscription_welcome", "subscription_exists"]


def test_confirmation_link_activates_once_and_a_reused_link_changes_nothing(client, db, captured_jobs):
    services.subscribe(db, "marie@example.org", "Marie")
    db.commit()
    link = confirm_link(outbox(db)[0])
    response = client.get(link)
    assert response.status_code == 200 and "Abonnement confirmé" in response.get_data(as_text=True)
    sub = db.scalar(select(Subscriber))
    db.refresh(sub)
    confirmed_at = sub.confirmed_at
    assert sub.status is SubscriberStatus.active and confirmed_at is not None
    again = client.get(link)
    assert again.status_code == 200 and "déjà confirmé" in again.get_data(as_text=True)
    db.refresh(sub)
    assert sub.confirmed_at == confirmed_at
    assert [c.action for c in sub.consents] == ["subscribe", "confirm"]


@pytest.mark.parametrize("forge", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # tampered signature
    lambda token: "eyJzIjoxLCJjIjoxfQ.aaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbb",     # made up
    lambda token: "",                                                       # nothing
])
def test_forged_confirmation_link_is_refused(client, db, captured_jobs, forge):
    services.subscribe(db, "marie@example.org", "Marie")
    token = confirm_link(outbox(db)[0]).rsplit("/", 1)[1]
    response = client.get(f"/abonnement/confirmer/{forge(token)}")
    assert response.status_code == 404
    assert db.scalar(select(Subscriber)).status is SubscriberStatus.pending


def test_token_signed_with_another_key_is_refused(db, captured_jobs):
    from itsdangerous import URLSafeTimedSerializer
    services.subscribe(db, "marie@example.org", "Marie")
    sub = db.scalar(select(Subscriber))
    forged = URLSafeTimedSerializer("not-our-key", salt="subscription-confirm").dumps({"s": sub.id, "c": 1})
    assert services.confirm(db, forged) is services.ConfirmResult.invalid


def test_an_old_confirmation_link_cannot_resubscribe_someone_who_left(db, captured_jobs):
    services.subscribe(db, "marie@example.org", "Marie")
    token = confirm_link(outbox(db)[0]).rsplit("/", 1)[1]
    assert services.confirm(db, token) is services.ConfirmResult.confirmed
    sub = db.scalar(select(Subscriber))
    services.unsubscribe(db, sub)
    assert services.confirm(db, token) is services.ConfirmResult.invalid
    assert sub.status is SubscriberStatus.unsubscribed


def test_unsubscribe_page_get_never_unsubscribes(client, db, captured_jobs):
    sub = Subscriber(email="marie@example.org", name="Marie", status=SubscriberStatus.active)
    db.add(sub)
    db.commit()
    response = client.get(f"/desabonnement/{sub.unsubscribe_token}")
    assert response.status_code == 200
    assert "Me désabonner" in response.get_data(as_text=True)
    db.refresh(sub)
    assert sub.status is SubscriberStatus.active


def test_one_click_post_without_cookie_or_csrf_unsubscribes_with_200(app, db, captured_jobs):
    app.config["WTF_CSRF_ENABLED"] = True  # the real setting: RFC 8058 POSTs carry no token
    sub = Subscriber(email="marie@example.org", name="Marie", status=SubscriberStatus.active)
    db.add(sub)
    db.commit()
    client = app.test_client(use_cookies=False)
    response = client.post(f"/desabonnement/{sub.unsubscribe_token}", data="List-Unsubscribe=One-Click",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.location is None
    db.refresh(sub)
    assert sub.status is SubscriberStatus.unsubscribed
    assert sub.consents[-1].action == "unsubscribe:one-click"


def test_forged_unsubscribe_token_changes_nobody(client, db, captured_jobs):
    sub = Subscriber(email="marie@example.org", name="Marie", status=SubscriberStatus.active)
    db.add(sub)
    db.commit()
    # One character changed (never the same one: a token may well end in "Z").
    last = "Y" if sub.unsubscribe_token.endswith("Z") else "Z"
    for token in ("x" * 32, sub.unsubscribe_token[:-1] + last, "../../etc", "A" * 500):
        response = client.post(f"/desabonnement/{token}", data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 404
    db.refresh(sub)
    assert sub.status is SubscriberStatus.active


def test_post_without_the_one_click_body_is_refused(client, db):
    sub = Subscriber(email="marie@example.org", name="Marie", status=SubscriberStatus.active)
    db.add(sub)
    db.commit()
    assert client.post(f"/desabonnement/{sub.unsubscribe_token}", data={}).status_code == 400
    db.refresh(sub)
    assert sub.status is SubscriberStatus.active


def test_subscribe_form_is_protected_by_csrf(app, db, captured_jobs):
    app.config["WTF_CSRF_ENABLED"] = True
    response = app.test_client().post("/abonnement", data={"email": "marie@example.org", "name": "M", "consent": "y"})
    assert response.status_code == 400
    assert "expiré" in response.get_data(as_text=True)
    assert db.scalar(select(func.count(Subscriber.id))) == 0


def test_names_are_kept_on_one_line(db, captured_jobs):
    services.subscribe(db, "marie@example.org", "Marie\r\nBcc: x@example.org\t", "CLAS\nBondy")
    subscriber = db.scalar(select(Subscriber))
    assert (subscriber.name, subscriber.structure_name) == ("Marie Bcc: x@example.org", "CLAS Bondy")


@pytest.mark.parametrize("lang, expected", [
    ("fr", "Adresse e-mail invalide : le nom de domaine après le signe @ doit contenir un point"),
    ("en", "Invalid e-mail address: the domain name after the @ sign must contain a period"),
])
def test_invalid_address_is_explained_in_the_page_language(client, db, captured_jobs, lang, expected):
    """Issue 13 #19: not email_validator's English (« The part after the @-sign… »)."""
    response = client.post(f"/abonnement?lang={lang}",
                           data={"email": "marie@exemple", "name": "Marie", "consent": "y"})
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert response.status_code == 422
    assert expected in page and "@-sign" not in page


def _hours_ago(db, hours: float) -> None:
    """Move every e-mail already queued `hours` back in time."""
    from datetime import timedelta

    from sqlalchemy import update

    from core.db import utcnow
    db.execute(update(OutboundEmail).values(created_at=utcnow() - timedelta(hours=hours)))
    db.commit()


def test_subscribing_a_pending_address_again_keeps_it_and_its_link(client, db, captured_jobs):
    """Issue 13 #10: an anonymous form does not overwrite the pending record (name, preferences)
    nor kill the link already sent; the confirmation goes again at most once an hour."""
    services.subscribe(db, "marie@example.org", "Marie", "CLAS Bondy",
                       preferences={"topics": ["numerique"], "role": None, "commune": "Bondy"})
    db.commit()
    first_link = confirm_link(outbox(db)[0])
    for _ in range(5):  # someone else, again and again (a forged X-Forwarded-For resets the web limit)
        services.subscribe(db, "Marie@Example.org", "Intrus", "Autre",
                           preferences={"topics": ["sante"], "role": None, "commune": "Paris"})
        db.commit()
    sub = db.scalar(select(Subscriber))
    assert (sub.name, sub.structure_name, sub.topics, sub.commune) == ("Marie", "CLAS Bondy", ["numerique"], "Bondy")
    assert len(outbox(db, "subscription_confirm")) == 1  # no flood of e-mails to the address
    assert [c.action for c in sub.consents] == ["subscribe"]
    _hours_ago(db, 1.01)
    services.subscribe(db, "marie@example.org", "Intrus")
    services.subscribe(db, "marie@example.org", "Intrus")
    db.commit()
    mails = outbox(db, "subscription_confirm")
    assert len(mails) == 2  # an hour later: once more
    # Both links work (the same consent record): the first confirms.
    response = client.get(first_link)
    assert response.status_code == 200 and "Abonnement confirmé" in response.get_data(as_text=True)
    db.refresh(sub)
    assert sub.status is SubscriberStatus.active and sub.name == "Marie"


def test_subscribing_an_active_address_again_tells_it_at_most_once_an_hour(db, captured_jobs):
    services.subscribe(db, "marie@example.org", "Marie")
    services.confirm(db, confirm_link(outbox(db)[0]).rsplit("/", 1)[1])
    db.commit()
    for _ in range(4):
        services.subscribe(db, "marie@example.org", "Marie")
        db.commit()
    assert len(outbox(db, "subscription_exists")) == 1
    _hours_ago(db, 2)
    services.subscribe(db, "marie@example.org", "Marie")
    db.commit()
    assert len(outbox(db, "subscription_exists")) == 2
