"""A small public world for the API and widget tests: the network's events (one with a confirmed
registration), partners' events, fiches action, a sent letter and its subscribers."""
from __future__ import annotations

from datetime import timedelta

from contributions import services as contributions
from contributions.models import Contribution, ContributionKind, FicheAction
from contributions.models import ContributionStatus as S
from core.db import utcnow
from events import services as events
from events.models import EventType
from newsletter import mailout
from newsletter.models import IssueStatus
from tests.integration.helpers import compose, make_event, people

REGISTRANT = "zoe.registrant@exemple.org"
SUBSCRIBER_PREFIX = "lecteur-api"


def seed(db, world) -> dict:
    readers = people(db, 2, prefix=SUBSCRIBER_PREFIX)
    letter = compose(db, world, numero=7)
    mailout.compile_issue(db, letter)
    letter.status, letter.published_at, letter.sent_at = IssueStatus.sent, utcnow(), utcnow()
    compose(db, world, numero=8)  # a draft: never in the API
    soiree = make_event(db, capacity=20, days=10)
    events.register(db, soiree, "Zoé Inscrite", REGISTRANT, structure="Maison des parents", consent=True)
    formation = make_event(db, days=40, type=EventType.formation, title="Formation à l'écoute",
                           address="3 place de la Mairie, 93100 Montreuil", place="Salle Épinettes")
    past = make_event(db, days=-30, title="Soirée passée")
    start = (utcnow() + timedelta(days=20)).replace(microsecond=0)
    partner_events = []
    for who, title in (("partner", "Soirée jeux aux Tilleuls"), ("other", "Café des parents")):
        c = contributions.create(db, world[who], contributions.ContributionData(
            kind=ContributionKind.evenement, title=title, body_md="Venez **jouer**.", event_start=start,
            event_end=start + timedelta(hours=2), place="Salle des fêtes", contact="Accueil : 01 23 45 67 89"))
        contributions.decide(db, world["editor"], c, S.accepted)
        partner_events.append(c)
        start += timedelta(days=1)
    pending = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.evenement, title="Pas encore modéré", body_md="…", event_start=start,
        place="Ailleurs"))
    fiches = []
    for n, (title, keywords, departement) in enumerate((
            ("Un goûter des familles", ["Parentalité", "Goûter"], "93"),
            ("Atelier devoirs en famille", ["CLAS"], "94"),
            ("Jardin partagé parents-enfants", ["parentalité", "Jardin"], "93"))):
        fiche = Contribution(structure_id=world["tilleuls"].id, kind=ContributionKind.fiche_action,
                             status=S.accepted, title=title, body_md="Des familles réunies.", source="partner")
        fiche.fiche = FicheAction(summary=f"Résumé {n}.", keywords=keywords, year=2024 + n, departement=departement,
                                  public=["Parents"], contact="Centre social Les Tilleuls, 01 48 00 00 00")
        db.add(fiche)
        fiches.append(fiche)
    hidden = Contribution(structure_id=world["tilleuls"].id, kind=ContributionKind.fiche_action,
                          status=S.submitted, title="Fiche en attente", body_md="…", source="partner")
    hidden.fiche = FicheAction(summary="Pas publiée.")
    db.add(hidden)
    db.commit()
    return {"letter": letter, "soiree": soiree, "formation": formation, "past": past, "partner_events": partner_events,
            "pending": pending, "fiches": fiches, "hidden_fiche": hidden, "readers": readers}


def personal_addresses(world, seeded) -> list[str]:
    """Every address of a person in the world: none may leave through the API."""
    return ([REGISTRANT, seeded["soiree"].contact_email] + [r.email for r in seeded["readers"]]
            + [world[who].email for who in ("editor", "partner", "other")])
