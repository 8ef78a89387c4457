"""The demo's world: a few structures of the network, an editor, two partners, about twenty
subscribers and a few contributions. Our own writing; the places and people are invented."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from accounts.auth import create_user
from accounts.models import Role
from contributions.models import (
    Contribution,
    ContributionKind,
    ContributionStatus,
    ContributionTransition,
    FicheAction,
    Structure,
    StructureKind,
)
from core.db import utcnow
from core.formatting import PARIS
from events.models import Event, EventType, Registration, RegistrationStatus
from newsletter import calendar
from subscribers.models import ConsentRecord, Subscriber, SubscriberStatus
from subscribers.services import CONSENT_WORDING

EDITOR = ("claire.martin@reaap.example.org", "Claire Martin", "redaction-demo")
PARTNER_CS = ("amina.benali@cs-tilleuls.example.org", "Amina Benali", "partenaire-demo")
PARTNER_ASSO = ("julien.morel@ecole-des-parents.example.org", "Julien Morel", "partenaire-demo")

SUBSCRIBERS = [
    ("Sophie Lambert", "Centre social Les Tilleuls"), ("Karim Haddad", "Collège Jean-Jaurès"),
    ("Nadia Ouali", "PMI de la Plaine"), ("Thomas Girard", "Ville de Bondy, service éducation"),
    ("Fatou Diallo", "Association Parents Ensemble"), ("Lucie Bernard", "CAF, service action sociale"),
    ("Mehdi Rahmani", "CLAS du Bois-Perrier"), ("Isabelle Roux", "École élémentaire Paul-Langevin"),
    ("Yacine Cherif", "Maison de quartier des Courtillières"), ("Camille Petit", ""),
    ("Hélène Fournier", "LAEP La Parenthèse"), ("Ousmane Traoré", "Association Réussir Ensemble"),
    ("Émilie Garnier", "Département, aide sociale à l'enfance"), ("Rachid Belkacem", "Centre social Rosa-Parks"),
    ("Anne Chevalier", "Médiathèque Elsa-Triolet"), ("Samia Mansouri", "CLAS Montreuil-Est"),
    ("Pierre Lefèvre", "Éducation nationale, REP+"),
    # Not confirmed yet, and one who left: the letter must not reach them.
    ("Laura Moreau", ""), ("Bruno Caron", "Association Le Relais"), ("Chloé Dumas", "Espace de vie sociale du Marché"),
]


def _slug(name: str) -> str:
    import unicodedata
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return ascii_name.lower().replace(" ", ".").replace("'", "")


def seed(db: Session) -> dict[str, tuple[str, str]]:
    """Load the demo data (the caller commits); returns the demo logins (role → (email, password))."""
    tilleuls = Structure(name="Centre social Les Tilleuls", kind=StructureKind.centre_social,
                         commune="Bobigny", departement="93")
    parents = Structure(name="École des parents de l'Est", kind=StructureKind.association,
                        commune="Montreuil", departement="93")
    ville = Structure(name="Ville de Bondy, mission parentalité", kind=StructureKind.ville,
                      commune="Bondy", departement="93")
    db.add_all([tilleuls, parents, ville])
    db.flush()
    # The demo's one back-office account is an admin, so that every page (accounts, settings) shows.
    editor = create_user(db, EDITOR[0], EDITOR[1], Role.admin, EDITOR[2])
    amina = create_user(db, PARTNER_CS[0], PARTNER_CS[1], Role.partner, PARTNER_CS[2], tilleuls.id)
    julien = create_user(db, PARTNER_ASSO[0], PARTNER_ASSO[1], Role.partner, PARTNER_ASSO[2], parents.id)

    now = utcnow()
    def evening(days: int, hour: int):  # a weekday evening, Paris time
        day = (now + timedelta(days=days)).astimezone(PARIS)
        return day.replace(hour=hour, minute=0, second=0, microsecond=0)

    for index, (name, structure) in enumerate(SUBSCRIBERS):
        status = (SubscriberStatus.active if index < 17 else
                  SubscriberStatus.pending if index < 19 else SubscriberStatus.unsubscribed)
        subscriber = Subscriber(email=f"{_slug(name)}@exemple-pro.example.org", name=name,
                                structure_name=structure, status=status,
                                confirmed_at=(now - timedelta(days=30)
                                              if status is not SubscriberStatus.pending else None),
                                unsubscribed_at=(now - timedelta(days=3)
                                                 if status is SubscriberStatus.unsubscribed else None))
        subscriber.consents.append(ConsentRecord(action="subscribe", wording=CONSENT_WORDING, ip="203.0.113.7"))
        if status is not SubscriberStatus.pending:
            subscriber.consents.append(ConsentRecord(action="confirm", ip="203.0.113.7"))
        db.add(subscriber)
        # Preferences, so that invitations to a segment have someone to reach (subscribers/segments.py).
        subscriber.topics, subscriber.role, subscriber.commune = [
            (["clas"], "referent_clas", "Bobigny"), ([], "travailleur_social", "Montreuil"),
            (["parentalite", "petite_enfance"], "animateur", "Bondy"),
            (["clas", "adolescence"], "referent_clas", "Montreuil"),
            ([], None, None), (["numerique"], "enseignant", "Bobigny")][index % 6]

    def contribution(author, structure, status, kind, title, body, **extra):
        c = Contribution(structure_id=structure.id, author_id=author.id, kind=kind, status=status,
                         title=title, body_md=body, submitted_at=now - timedelta(days=5), **extra)
        c.transitions.append(ContributionTransition(from_status=None, to_status="draft", actor_id=author.id))
        c.transitions.append(ContributionTransition(from_status="draft", to_status="submitted", actor_id=author.id))
        if status is not ContributionStatus.submitted:
            c.transitions.append(ContributionTransition(
                from_status="submitted", to_status=status.value, actor_id=editor.id,
                comment=("Pouvez-vous préciser les horaires ?"
                         if status is ContributionStatus.changes_requested else None)))
        db.add(c)
        return c

    contribution(julien, parents, ContributionStatus.accepted, ContributionKind.actualite,
                 "Un nouveau groupe de parole pour les parents d'adolescents",
                 "Depuis septembre, l'École des parents de l'Est anime **un groupe de parole mensuel** pour les "
                 "parents d'adolescents de 11 à 17 ans.\n\n- le premier mardi du mois, de 18 h 30 à 20 h ;\n"
                 "- gratuit, sans inscription ;\n- garde d'enfants possible sur place.",
                 link="https://ecole-des-parents.example.org/groupe-ados")
    contribution(amina, tilleuls, ContributionStatus.accepted, ContributionKind.evenement,
                 "Soirée jeux en famille au centre social",
                 "Une soirée pour jouer ensemble, parents et enfants, avec la ludothèque du quartier. "
                 "Venez comme vous êtes !", event_start=evening(20, 18), event_end=evening(20, 21),
                 place="Centre social Les Tilleuls, 12 rue des Lilas, Bobigny")
    contribution(julien, parents, ContributionStatus.changes_requested, ContributionKind.evenement,
                 "Conférence : les écrans à la maison", "Une conférence-débat avec une psychologue.",
                 event_start=evening(40, 19), place="Montreuil")
    contribution(amina, tilleuls, ContributionStatus.submitted, ContributionKind.actualite,
                 "Le CLAS des Tilleuls recrute des bénévoles",
                 "Nous cherchons des bénévoles pour l'accompagnement à la scolarité, deux soirs par semaine.")
    _seed_events(db, evening)
    _seed_fiches(db, editor, tilleuls, parents, ville)
    for year in (now.year, now.year + 1):
        calendar.generate_year(db, year)
    return {"rédaction et administration": (EDITOR[0], EDITOR[2]),
            "partenaire (centre social)": (PARTNER_CS[0], PARTNER_CS[2]),
            "partenaire (association)": (PARTNER_ASSO[0], PARTNER_ASSO[2])}


def _seed_events(db: Session, evening) -> None:
    """A soirée-rencontre du Réaap (full, with a waitlist) and the journée des porteurs de projet.
    Registrations are written directly: the demo sends no e-mail while it loads."""
    soiree = Event(
        type=EventType.soiree_reaap, title="Soirée-rencontre du Réaap : les devoirs à la maison, source de conflits ?",
        description_md=(
            "Parents, bénévoles des CLAS et professionnels se retrouvent autour d'une question qui revient "
            "dans tous les groupes de parole : **comment accompagner les devoirs sans que la soirée tourne "
            "à la dispute ?**\n\n"
            "- témoignages de parents du quartier des Sablons ;\n"
            "- regards croisés d'une enseignante et d'une référente CLAS ;\n"
            "- temps d'échange en petits groupes, puis buffet partagé.\n\n"
            "Un espace de jeux pour les enfants est prévu pendant la soirée."),
        starts_at=evening(12, 18).replace(minute=30), ends_at=evening(12, 21),
        place="Maison des familles des Sablons", address="4 allée des Cerisiers, 93140 Bondy",
        access_info="Bus 105 et 147, arrêt Sablons ; tramway T1, station Pont de Bondy (10 minutes à pied).",
        accessibility_info="Salle de plain-pied, toilettes accessibles, boucle magnétique sur demande.",
        capacity=12, organiser="Réaap de Seine-Saint-Denis", contact_email="claire.martin@reaap.example.org")
    journee = Event(
        type=EventType.journee_porteurs, title="Journée des porteurs de projet 2027",
        description_md=(
            "La journée annuelle du réseau : bilan de l'année, présentation de cinq actions labellisées, "
            "ateliers d'échange de pratiques (aller vers les familles éloignées, animer un groupe de parents, "
            "travailler avec l'école) et point sur l'appel à projets.\n\n"
            "Déjeuner offert sur place. Merci de préciser vos besoins d'accessibilité à l'inscription."),
        starts_at=evening(45, 9), ends_at=evening(45, 17),
        place="Espace culturel du Canal",
        address="18 quai de l'Ourcq, 93500 Pantin",
        access_info="Métro ligne 5, station Hoche ; RER E, gare de Pantin.",
        accessibility_info=("Bâtiment accessible en fauteuil (ascenseur) ; "
                            "interprète LSF sur demande deux semaines avant."),
        capacity=80, organiser="CAF et Réaap de Seine-Saint-Denis", contact_email="claire.martin@reaap.example.org")
    db.add_all([soiree, journee])
    db.flush()
    people = [
        ("Sophie Lambert", "Centre social Les Tilleuls", "Animatrice famille", 2),
        ("Karim Haddad", "Collège Jean-Jaurès", "Professeur principal", 1),
        ("Fatou Diallo", "Association Parents Ensemble", "Parent", 3),
        ("Mehdi Rahmani", "CLAS du Bois-Perrier", "Référent CLAS", 1),
        ("Hélène Fournier", "LAEP La Parenthèse", "Accueillante", 2),
        ("Samia Mansouri", "CLAS Montreuil-Est", "Bénévole", 3),
        # The soirée is full (12 people): these two wait, in this order.
        ("Yacine Cherif", "Maison de quartier des Courtillières", "Médiateur", 1),
        ("Anne Chevalier", "Médiathèque Elsa-Triolet", "Bibliothécaire", 2),
    ]
    taken = 0
    assert soiree.capacity is not None  # 12, set above
    for position, (name, structure, role, size) in enumerate(people, start=1):
        fits = taken + size <= soiree.capacity and position <= 6
        taken += size if fits else 0
        db.add(Registration(event_id=soiree.id, name=name, email=f"{_slug(name)}@exemple-pro.example.org",
                            structure=structure, role=role, party_size=size, position=position,
                            status=RegistrationStatus.confirmed if fits else RegistrationStatus.waitlisted,
                            accessibility_needs="Accès en fauteuil" if name == "Hélène Fournier" else "",
                            consent_at=utcnow()))
    for position, (name, structure, role, _size) in enumerate(people[:4], start=1):
        db.add(Registration(event_id=journee.id, name=name, email=f"{_slug(name)}@exemple-pro.example.org",
                            structure=structure, role=role, party_size=1, position=position,
                            status=RegistrationStatus.confirmed, consent_at=utcnow()))


def _seed_fiches(db: Session, editor, tilleuls, parents, ville) -> None:
    """A few fiches action, published in the directory of actions (/actions/)."""
    fiches = [
        (tilleuls, "Le café des parents du jeudi", dict(
            year=2026, action_status="en_cours", dimension="Services", keywords=["Parentalité", "Petite enfance"],
            summary="Chaque jeudi matin, les parents se retrouvent au centre social autour d'un café, "
                    "pendant que les tout-petits jouent à côté avec une animatrice.",
            initiative=["Un groupe d'habitants", "Le centre social"], territory="Un quartier",
            description="Des mères rencontrées à la sortie de l'école disaient se sentir seules.\n"
                        "- un premier café en janvier, à cinq ;\n- un thème choisi ensemble chaque mois ;\n"
                        "- une intervenante invitée une fois par trimestre (PMI, CAF, orthophoniste).",
            public=["familles", "Petite enfance"], partners=["PMI", "CAF"],
            people_mobilised="Une animatrice famille, deux bénévoles, une quinzaine de parents.",
            result_inhabitants="Des parents qui se connaissent et s'entraident en dehors du café.",
            perspectives="Confier l'animation à un petit groupe de parents.")),
        (parents, "Groupe de parole des parents d'adolescents", dict(
            year=2025, action_status="en_cours", dimension="Accompagnement de projets",
            keywords=["Parentalité", "éducation / scolarité"],
            summary="Un groupe mensuel, animé par une psychologue, pour les parents d'enfants de 11 à 17 ans : "
                    "écrans, orientation, autorité, premières sorties.",
            initiative=["Un ou plusieurs partenaire(s)"], territory="Plusieurs communes",
            public=["Parents d'adolescents"], partners=["Collège Jean-Jaurès", "Maison des adolescents"],
            financial_resources="Financement Réaap (appel à projets) et participation de la ville.",
            limits="Peu de pères viennent : un créneau le samedi matin est à l'essai.")),
        (ville, "Jardins partagés des Sablons", dict(
            year=2024, action_status="terminee", status_reason="Le terrain est rendu au bailleur pour des travaux.",
            dimension="Citoyenneté", keywords=["développement durable", "intergénérationnel", "Santé"],
            summary="Trois saisons de jardinage en famille au pied des immeubles, avec les écoles du quartier.",
            territory="Un quartier", public=["Tous publics"],
            result_territory="Un lieu de rencontre entre générations, repris dans le projet de rénovation urbaine.")),
    ]
    for structure, title, fields in fiches:
        c = Contribution(structure_id=structure.id, kind=ContributionKind.fiche_action,
                         status=ContributionStatus.published, title=title,
                         body_md=fields.get("description") or "", source="partner", submitted_at=utcnow())
        c.fiche = FicheAction(departement=structure.departement, structure_label=structure.name,
                              **{"description": fields.pop("description", None), **fields})
        c.transitions.append(ContributionTransition(from_status="submitted", to_status="accepted", actor_id=editor.id))
        c.transitions.append(ContributionTransition(from_status="accepted", to_status="published", actor_id=editor.id,
                                                    comment="Publiée dans l'annuaire des actions."))
        db.add(c)
