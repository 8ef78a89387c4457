"""Segments (subscribers/segments.py): what a segment may name, and its canonical form. The SQL
condition on PostgreSQL and SQLite is in tests/integration/subscribers/test_segments.py."""
from __future__ import annotations

import pytest

from subscribers import segments


def test_unknown_topic_or_role_is_refused():
    with pytest.raises(segments.SegmentError):
        segments.normalize({"topics": ["astrologie"]})
    with pytest.raises(segments.SegmentError):
        segments.normalize({"roles": ["roi"]})


def test_normalize_is_canonical():
    assert segments.normalize({"topics": ["sante", "clas", "clas"], "communes": ["  Saint-Denis ", ""], "x": [1]}) == {
        "topics": ["clas", "sante"], "communes": ["Saint-Denis"]}
    assert segments.normalize({"roles": []}) is None
    assert segments.describe(None) == "Tous les abonnés"
    assert "Référent·e CLAS" in segments.describe({"roles": ["referent_clas"]})


def test_departements_are_kept_by_their_code():
    assert segments.normalize({"departements": ["Seine-Saint-Denis", "093", "2a", " "]}) == {
        "departements": ["2A", "93"]}
    assert segments.normalize({"departements": "seine saint denis"}) == {"departements": ["93"]}
    assert segments.from_lists(departements=["971"]) == {"departements": ["971"]}
    assert segments.from_lists(departements=[]) is None


def test_an_unknown_departement_is_refused_in_french():
    with pytest.raises(segments.SegmentError, match="Département inconnu : 20, Île-de-France"):
        segments.normalize({"departements": ["93", "20", "Île-de-France"]})


def test_describe_names_the_departements():
    text = segments.describe({"roles": ["referent_clas"], "departements": ["93", "2A"]})
    assert text == "Fonctions : Référent·e CLAS ; départements : Corse-du-Sud (2A), Seine-Saint-Denis (93)"
    assert segments.describe({"departements": ["971"]}) == "Départements : Guadeloupe (971)"


def test_unknown_topic_message_is_french():
    with pytest.raises(segments.SegmentError, match="Thème inconnu : astrologie"):
        segments.normalize({"topics": ["astrologie"]})
    with pytest.raises(segments.SegmentError, match="Fonction inconnue : roi"):
        segments.normalize({"roles": ["roi"]})
