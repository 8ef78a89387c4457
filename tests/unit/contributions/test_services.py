"""Contribution services without a database (contributions/services.py): lists read from lines or
commas. Submissions, moderation and access: tests/integration/contributions/test_contributions.py."""
from __future__ import annotations

from contributions import services


def test_split_list_reads_lines_or_commas():
    assert services.split_list("a, b ; c") == ["a", "b", "c"]
    assert services.split_list("Ville de Bobigny, service jeunesse\nCAF") == [
        "Ville de Bobigny, service jeunesse", "CAF"]
    assert services.split_list("- a\n• b\n\n  \n- a") == ["a", "b"]
    assert services.split_list("") == [] and services.split_list(None) == []
