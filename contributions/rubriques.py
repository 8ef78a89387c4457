"""The rubriques of the letter: the sections a contribution is filed under when accepted, in
their order in an issue (DESIGN.md)."""
from __future__ import annotations

from contributions.models import ContributionKind

RUBRIQUES: list[tuple[str, str]] = [
    ("actualites", "Actualités du réseau"),
    ("parentalite", "Parentalité"),
    ("clas", "Accompagnement à la scolarité (CLAS)"),
    ("retour_soiree", "Retour sur une soirée du Réaap"),
    ("agenda", "Agenda"),
    ("ressources", "Ressources et publications"),
    ("appels_a_projets", "Appels à projets"),
]
RUBRIQUE_LABELS = dict(RUBRIQUES)

# Where each kind of contribution lands in an issue unless the editor chooses otherwise.
DEFAULT_RUBRIQUE = {
    ContributionKind.actualite: "actualites",
    ContributionKind.evenement: "agenda",
    ContributionKind.fiche_action: "parentalite",
    ContributionKind.ressource: "ressources",
    ContributionKind.appel_a_projets: "appels_a_projets",
}
