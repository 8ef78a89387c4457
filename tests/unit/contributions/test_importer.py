"""Reading the text export of the national database of social-centre actions
(contributions/importer.py): our own fixture, field by field, and structure kinds from their names.
Importing into the database, CSV files and the command line:
tests/integration/contributions/test_importer.py."""
from __future__ import annotations

from contributions.importer import parse_file, structure_kind
from contributions.models import StructureKind
from tests.conftest import FIXTURES

SAMPLE = FIXTURES / "actions_sample.txt"


def test_the_sample_export_is_read_field_by_field():
    records = parse_file(SAMPLE)
    assert [r.title for r in records] == [
        "Une crèche parentale au pied des tours", "Les mercredis des jardiniers", "Devoirs en famille"]
    creche, jardin, devoirs = records
    assert (creche.structure, creche.departement, creche.year) == (
        "Centre social des Quatre-Chemins", "Seine-Saint-Denis", 2024)
    assert creche.structure_label == "Centre social des Quatre-Chemins - Seine-Saint-Denis"
    f = creche.fields
    assert f["file_names"] == ["plaquette-creche.pdf"]
    assert f["action_status"] == "en_cours" and f["dimension"] == "Services"
    assert f["keywords"] == ["Parentalité", "Petite enfance"]
    # A "- Label" line of an earlier field inside a text is text, not a new field.
    assert f["summary"] == ("Six familles du quartier gèrent ensemble une crèche parentale de douze places.\n"
                            "Les parents assurent chacun une demi-journée de présence par semaine.\n"
                            "- Dimension\n"
                            "Ce tiret n'est pas un champ : la dimension est déjà passée.")
    assert f["initiative"] == ["Un groupe d'habitants", "Autre",
                               "Précision : Une puéricultrice de la PMI voisine a réuni les premières familles."]
    assert f["territory"] == "Un quartier"
    assert f["description"].splitlines() == [
        "Constat : pas assez de places d'accueil pour les tout-petits dans le quartier.", "Étapes :",
        "- réunions de parents pendant un an ;", "- agrément de la PMI ;", "- ouverture en septembre."]
    assert f["public"] == ["familles", "Petite enfance"]
    assert f["partners"] == ["CAF", "PMI"]
    assert f["financial_resources"] == "Prestation de service de la CAF et participation des familles."
    # Empty fields stay empty: nothing is invented.
    for empty in ("partners_description", "people_mobilised", "result_territory", "result_inhabitants",
                  "limits", "status_reason", "contact"):
        assert f[empty] is None, empty
    assert jardin.fields["action_status"] == "terminee"
    assert jardin.fields["status_reason"] == "Le terrain a été repris par la ville pour un chantier."
    assert jardin.fields["partners"] == [] and jardin.fields["file_names"] == []
    assert devoirs.fields["action_status"] is None and devoirs.fields["dimension"] is None
    assert devoirs.fields["public"] == [] and devoirs.fields["initiative"] == [] and devoirs.fields["territory"] is None
    assert devoirs.fields["partners"] == ["Collège Jean-Jaurès"]


def test_structure_kind_comes_from_the_name():
    assert structure_kind("CENTRE SOCIAL Communautaire") is StructureKind.centre_social
    assert structure_kind("Centre Socioculturel Mireille Moyon") is StructureKind.centre_social
    assert structure_kind("CSC JAUNAIS BLORDIERE") is StructureKind.centre_social
    assert structure_kind("FORUM DES ROMAINS MJC-Centre Social") is StructureKind.centre_social
    assert structure_kind("Espace de vie sociale du Marché") is StructureKind.evs
    assert structure_kind("ESPACE SAINT-EXUPERY") is StructureKind.autre
    assert structure_kind("M J C CLAUDE NOUGARO") is StructureKind.autre
