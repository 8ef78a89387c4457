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
