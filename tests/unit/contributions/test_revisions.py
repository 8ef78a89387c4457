"""The word diffs of the editors' edits (contributions/revisions.py)."""
from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from contributions.revisions import change_lines, changed_fields, diff_html, word_diff


def test_a_word_diff_names_what_was_removed_and_added():
    runs = word_diff("Atelier des parents le mardi", "Atelier des familles le mardi soir")
    assert ("delete", "parents") in runs
    assert ("insert", "familles") in runs
    assert ("insert", " soir") in runs or ("insert", "soir") in [(op, t.strip()) for op, t in runs]


@given(st.text(max_size=60), st.text(max_size=60))
def test_the_kept_and_added_runs_give_the_new_text_back_and_the_kept_and_removed_the_old(before, after):
    runs = word_diff(before, after)
    assert "".join(t for op, t in runs if op != "delete") == after
    assert "".join(t for op, t in runs if op != "insert") == before


def test_the_html_diff_escapes_the_text_and_names_each_change_for_screen_readers():
    html = str(diff_html("Bonjour <b>tous</b>", "Bonjour <script>alert(1)</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<del><span class="visually-hidden">[supprimé] </span>' in html
    assert '<ins><span class="visually-hidden">[ajouté] </span>' in html


def test_the_html_diff_of_equal_texts_has_no_change():
    assert "<ins>" not in str(diff_html("Même texte", "Même texte"))


def test_change_lines_say_what_changed_in_french():
    before = {"title": "Café des parents", "body_md": "Tous les mardis au centre.", "place": ""}
    after = {"title": "Café des familles", "body_md": "Tous les mardis au centre social.", "place": "Bobigny"}
    assert changed_fields(before, after) == ["title", "body_md", "place"]
    lines = change_lines(before, after)
    assert lines[0] == "Titre : « Café des parents » → « Café des familles »"
    assert lines[1].startswith("Texte modifié (") and "social" in lines[1]
    assert lines[2] == "Lieu ajouté : « Bobigny »"


def test_no_change_no_line():
    assert change_lines({"title": "A"}, {"title": "A"}) == []
