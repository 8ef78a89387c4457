"""Segments: the SQL condition (PostgreSQL and SQLite) agrees with the rule said in Python."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy import create_engine, delete, select
from sqlalchemy.orm import Session

from events.models import Event
from mailing.models import Delivery
from newsletter import mailout
from newsletter.models import Issue
from subscribers import segments
from subscribers.models import ROLES, TOPICS, Subscriber, SubscriberStatus
from tests.integration.helpers import run_subscribe_jobs, subscribe_job

COMMUNES = ["Bobigny", "Montreuil", "Saint-Denis", "Épinay-sur-Seine"]
DEPARTEMENTS = ["93", "94", "2A", "971"]


@pytest.fixture
def sqlite_db():
    import parentalites.models  # noqa: F401
    from core.db import Base
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def any_db(request):
    return request.getfixturevalue("db" if request.param == "postgresql" else "sqlite_db")


def add(db, email, topics=None, role=None, commune=None, status=SubscriberStatus.active,
        departement=None) -> Subscriber:
    s = Subscriber(email=f"{email}@example.org", name=email, topics=topics, role=role, commune=commune, status=status,
                   departement=departement)
    db.add(s)
    db.flush()
    return s


def selected(db, segment) -> set[str]:
    return {e.split("@")[0] for e in db.scalars(select(Subscriber.email).where(segments.eligible(segment)))}


@pytest.fixture
def population(any_db):
    db = any_db
    add(db, "tout")                                              # no preference at all
    add(db, "vide", topics=[])                                    # picked nothing: everything
    add(db, "clas", topics=["clas"], role="referent_clas", commune="Bobigny", departement="93")
    add(db, "clas_montreuil", topics=["clas", "sante"], role="referent_clas", commune="Montreuil", departement="93")
    add(db, "parent", topics=["parentalite"], role="travailleur_social", commune="Bobigny", departement="93")
    add(db, "ecrans", topics=["numerique"], role="enseignant", commune="Épinay-sur-Seine", departement="2A")
    add(db, "parti", topics=["clas"], role="referent_clas", commune="Bobigny", status=SubscriberStatus.unsubscribed)
    add(db, "attente", topics=["clas"], status=SubscriberStatus.pending)
    db.commit()
    return db


ACTIVE = {"tout", "vide", "clas", "clas_montreuil", "parent", "ecrans"}


@pytest.mark.parametrize("segment, expected", [
    (None, ACTIVE),
    ({}, ACTIVE),
    ({"topics": [], "roles": [], "communes": []}, ACTIVE),
    ({"topics": ["clas"]}, {"tout", "vide", "clas", "clas_montreuil"}),
    ({"topics": ["clas", "numerique"]}, {"tout", "vide", "clas", "clas_montreuil", "ecrans"}),   # OR inside a key
    ({"topics": ["adolescence"]}, {"tout", "vide"}),
    ({"roles": ["referent_clas"]}, {"clas", "clas_montreuil"}),                                # the CLAS referents
    ({"communes": ["Bobigny", "Épinay-sur-Seine"]}, {"clas", "parent", "ecrans"}),
    ({"topics": ["clas"], "communes": ["Bobigny"]}, {"clas"}),                                  # AND across keys
    ({"roles": ["referent_clas"], "communes": ["Montreuil"], "topics": ["sante"]}, {"clas_montreuil"}),
    ({"roles": ["elu"]}, set()),
    ({"departements": ["93"]}, {"clas", "clas_montreuil", "parent"}),
    ({"departements": ["Seine-Saint-Denis", "2A"]}, {"clas", "clas_montreuil", "parent", "ecrans"}),
    ({"departements": ["971"]}, set()),
    ({"topics": ["clas"], "departements": ["93"]}, {"clas", "clas_montreuil"}),                # a CLAS edition for 93
])
def test_segment_selects_exactly_its_active_subscribers(population, segment, expected):
    assert selected(population, segment) == expected
    assert segments.count(population, segment) == len(expected)
    everyone = population.scalars(select(Subscriber).where(Subscriber.status == SubscriberStatus.active)).all()
    assert {s.name for s in everyone if segments.matches(s, segment)} == expected


def test_commune_with_quote_and_accent_is_matched_exactly(any_db):
    add(any_db, "a", commune="L'Île-Saint-Denis")
    add(any_db, "b", commune="L'Ile-Saint-Denis")
    any_db.commit()
    assert selected(any_db, {"communes": ["L'Île-Saint-Denis"]}) == {"a"}


topic_lists = st.one_of(st.none(), st.lists(st.sampled_from(sorted(TOPICS)), max_size=3, unique=True))
people = st.lists(st.tuples(topic_lists, st.one_of(st.none(), st.sampled_from(sorted(ROLES))),
                            st.one_of(st.none(), st.sampled_from(COMMUNES)),
                            st.one_of(st.none(), st.sampled_from(DEPARTEMENTS))), max_size=12)
segment_strategy = st.one_of(st.none(), st.fixed_dictionaries({}, optional={
    "topics": st.lists(st.sampled_from(sorted(TOPICS)), max_size=3),
    "roles": st.lists(st.sampled_from(sorted(ROLES)), max_size=3),
    "communes": st.lists(st.sampled_from(COMMUNES), max_size=2),
    "departements": st.lists(st.sampled_from(DEPARTEMENTS), max_size=2)}))


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(population=people, segment=segment_strategy)
def test_sql_and_python_agree_on_random_populations(any_db, population, segment):
    db = any_db
    db.execute(delete(Subscriber))
    for n, (topics, role, commune, departement) in enumerate(population):
        add(db, f"p{n}", topics=topics, role=role, commune=commune, departement=departement)
    db.commit()
    subscribers = db.scalars(select(Subscriber)).all()
    assert selected(db, segment) == {s.name for s in subscribers if segments.matches(s, segment)}


# --- Preferences: chosen at subscription, changed through the letter's link ---------------------

def test_subscription_form_records_the_optional_preferences(client, db, captured_jobs):
    response = client.post("/abonnement", data={
        "email": "lea@example.org", "name": "Léa", "consent": "y",
        "topics": ["clas", "sante"], "role": "referent_clas", "commune": "  Saint-Denis ", "departement": "93"})
    assert response.status_code == 302 and response.location == "/abonnement/verifiez-vos-e-mails"
    # The form's choices travel with the job; the worker stores them.
    assert captured_jobs == [subscribe_job("lea@example.org", "Léa", preferences={
        "topics": ["clas", "sante"], "role": "referent_clas", "commune": "  Saint-Denis ", "departement": "93"})]
    run_subscribe_jobs(db, captured_jobs)
    subscriber = db.scalar(select(Subscriber))
    assert (subscriber.topics, subscriber.role, subscriber.commune, subscriber.departement) == (
        ["clas", "sante"], "referent_clas", "Saint-Denis", "93")
    assert subscriber.status is SubscriberStatus.pending
    # Nothing chosen is fine too: every topic.
    client.post("/abonnement", data={"email": "max@example.org", "name": "Max", "consent": "y"})
    run_subscribe_jobs(db, captured_jobs)
    other = db.scalar(select(Subscriber).where(Subscriber.email == "max@example.org"))
    assert (other.topics, other.role, other.commune, other.departement) == ([], None, None, None)


def test_subscription_form_offers_the_departements_and_refuses_an_unknown_one(client, db, captured_jobs):
    page = client.get("/abonnement").get_data(as_text=True)
    assert '<label for="departement">Département où vous travaillez (facultatif)</label>' in page
    assert '<option value="93">Seine-Saint-Denis (93)</option>' in page
    assert '<option value="2A">Corse-du-Sud (2A)</option>' in page and "Mayotte (976)" in page
    response = client.post("/abonnement", data={"email": "lea@example.org", "name": "Léa", "consent": "y",
                                                 "departement": "20"})
    assert response.status_code == 422
    assert db.scalar(select(Subscriber)) is None and captured_jobs == []


def test_set_preferences_stores_the_departement_by_its_code(db):
    from subscribers import services
    subscriber = add(db, "lea")
    services.set_preferences(db, subscriber, departement="seine saint denis")
    assert subscriber.departement == "93"
    services.set_preferences(db, subscriber, departement="Île-de-France")  # not a département: dropped
    assert subscriber.departement is None


def test_subscription_form_refuses_an_unknown_topic(client, db, captured_jobs):
    response = client.post("/abonnement", data={"email": "lea@example.org", "name": "Léa", "consent": "y",
                                                 "topics": ["astrologie"]})
    assert response.status_code == 422
    assert db.scalar(select(Subscriber)) is None and captured_jobs == []


def test_a_stranger_cannot_change_an_active_subscribers_preferences_by_subscribing(client, db, captured_jobs):
    add(db, "lea", topics=["clas"], role="referent_clas", commune="Bobigny")
    db.commit()
    response = client.post("/abonnement", data={"email": "lea@example.org", "name": "Intrus", "consent": "y",
                                                 "topics": ["sante"], "role": "elu", "commune": "Paris"})
    assert response.status_code == 302 and response.location == "/abonnement/verifiez-vos-e-mails"
    run_subscribe_jobs(db, captured_jobs)  # the worker finds an active subscriber: changes nothing
    subscriber = db.scalar(select(Subscriber))
    db.refresh(subscriber)
    assert (subscriber.topics, subscriber.role, subscriber.commune, subscriber.name) == (
        ["clas"], "referent_clas", "Bobigny", "lea")


def test_preferences_page_shows_and_changes_the_choices(client, db):
    subscriber = add(db, "lea", topics=["clas"], role="referent_clas", commune="Bobigny", departement="93")
    db.commit()
    url = f"/preferences/{subscriber.unsubscribe_token}"
    page = client.get(url).get_data(as_text=True)
    assert "lea@example.org" in page and 'value="Bobigny"' in page
    assert '<input checked id="topics-1" name="topics" type="checkbox" value="clas">' in page
    assert '<option selected value="referent_clas">' in page
    assert '<option selected value="93">Seine-Saint-Denis (93)</option>' in page
    response = client.post(url, data={"topics": ["numerique", "adolescence"], "role": "", "commune": "Montreuil",
                                      "departement": "94"})
    assert response.status_code == 302 and response.location == url
    db.refresh(subscriber)
    assert (subscriber.topics, subscriber.role, subscriber.commune, subscriber.departement) == (
        ["adolescence", "numerique"], None, "Montreuil", "94")
    assert "Vos préférences sont enregistrées" in client.get(url).get_data(as_text=True)
    # An unknown département is refused, and nothing else is changed.
    assert client.post(url, data={"role": "elu", "departement": "975"}).status_code == 422
    db.refresh(subscriber)
    assert (subscriber.role, subscriber.departement) == (None, "94")
    # Unticking every topic means every topic again.
    client.post(url, data={"role": "elu", "commune": "", "departement": ""})
    db.refresh(subscriber)
    assert (subscriber.topics, subscriber.role, subscriber.commune, subscriber.departement) == ([], "elu", None, None)


def test_preferences_page_refuses_a_forged_token_and_a_departed_subscriber(client, db):
    assert client.get("/preferences/pas-un-jeton").status_code == 404
    assert client.post("/preferences/pas-un-jeton", data={"role": "elu"}).status_code == 404
    gone = add(db, "parti", topics=["clas"], status=SubscriberStatus.unsubscribed)
    db.commit()
    page = client.post(f"/preferences/{gone.unsubscribe_token}", data={"topics": ["sante"]}).get_data(as_text=True)
    assert "ne reçoit plus" in page
    db.refresh(gone)
    assert gone.topics == ["clas"]
    assert client.get("/preferences/").status_code == 200


def test_preferences_form_is_protected_by_csrf(db):
    from parentalites.app import create_app
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False})  # CSRF on, as in production
    subscriber = add(db, "lea", topics=["clas"])
    db.commit()
    response = app.test_client().post(f"/preferences/{subscriber.unsubscribe_token}", data={"role": "elu"})
    assert response.status_code == 400
    db.refresh(subscriber)
    assert subscriber.role is None


def test_the_mailout_plans_an_invitation_for_its_segment_on_both_databases(population):
    """The engine's INSERT … SELECT with the segment condition, on PostgreSQL and on SQLite."""
    db = population
    start = datetime(2030, 1, 10, 17, tzinfo=UTC)
    event = Event(title="Soirée", starts_at=start, ends_at=start + timedelta(hours=2))
    db.add(event)
    db.flush()
    first = Issue(kind="invitation", event_id=event.id, segment={"roles": ["referent_clas"]}, title="i",
                  issue_date=start.date())
    db.add(first)
    db.flush()
    assert mailout.plan(db, first) == 2
    assert mailout.plan(db, first) == 0
    # A second invitation to the same event, for everyone: those already invited are left out.
    second = Issue(kind="invitation", event_id=event.id, segment=None, title="i", issue_date=start.date())
    db.add(second)
    db.flush()
    mailout.plan(db, second)

    def names(issue):
        return set(db.scalars(select(Subscriber.name).join(Delivery, Delivery.subscriber_id == Subscriber.id)
                              .where(Delivery.issue_id == issue.id)))

    assert names(first) == {"clas", "clas_montreuil"}
    assert names(second) == ACTIVE - {"clas", "clas_montreuil"}
    db.commit()


def test_the_mailout_plans_a_letter_for_its_segment_on_both_databases(population):
    """A letter (a numéro) goes to its segment through the same KindRules path as an invitation."""
    db = population
    clas93 = Issue(kind="letter", numero=7, segment={"topics": ["clas"], "departements": ["93"]}, title="CLAS 93",
                   issue_date=datetime(2030, 1, 10).date())
    everyone = Issue(kind="letter", numero=8, segment=None, title="Tous", issue_date=datetime(2030, 2, 10).date())
    db.add_all([clas93, everyone])
    db.flush()
    assert mailout.plan(db, clas93) == 2
    assert mailout.plan(db, everyone) == len(ACTIVE)

    def names(issue):
        return set(db.scalars(select(Subscriber.name).join(Delivery, Delivery.subscriber_id == Subscriber.id)
                              .where(Delivery.issue_id == issue.id)))

    assert names(clas93) == {"clas", "clas_montreuil"}
    assert names(everyone) == ACTIVE
    db.commit()
