"""The archive search's pure parts: reading a frozen letter back into articles, cleaning a hostile
query, and the highlighted excerpt (escaped, the same whatever the database)."""
from __future__ import annotations

from newsletter.archive_search import MAX_QUERY_CHARS, articles_of, clean_query, excerpt

FROZEN = """<article class="letter" lang="fr"><header><p class="letter-meta">Lettre Parentalités n°3</p>
<h1>Printemps</h1></header>
<section aria-labelledby="edito"><h2 id="edito">Édito</h2><p>Bonne lecture aux <em>parents</em>.</p></section>
<section aria-labelledby="rubrique-clas"><h2 id="rubrique-clas">Accompagnement à la scolarité (CLAS)</h2>
<article class="letter-item" id="article-12"><h3>Aide aux devoirs</h3>
<p class="letter-item-meta">Centre social Les Tilleuls (Bobigny)</p><p>Des bénévoles &amp; des élèves.</p></article>
<article class="letter-item"><h3>Sans ancre</h3><p>Un article d'une lettre ancienne.</p></article>
</section></article>"""


def test_a_frozen_letter_reads_back_into_its_edito_and_articles():
    found = articles_of(FROZEN)
    assert [(a.position, a.anchor, a.rubrique, a.title) for a in found] == [
        (0, "edito", "", "Édito"),
        (1, "article-12", "Accompagnement à la scolarité (CLAS)", "Aide aux devoirs"),
        (2, None, "Accompagnement à la scolarité (CLAS)", "Sans ancre"),
    ]
    assert found[0].body == "Bonne lecture aux parents."
    # The text first, the meta line after it: an excerpt starts with what the article says.
    assert found[1].body == "Des bénévoles & des élèves. Centre social Les Tilleuls (Bobigny)"
    assert articles_of(None) == [] and articles_of("   ") == [] and articles_of("<p>rien</p>") == []


def test_a_hostile_query_is_cleaned_and_the_reader_told():
    assert clean_query("par\x00ents\x07 ") == ("par ents", [])
    q, notices = clean_query("parents " * 300)
    assert len(q) <= MAX_QUERY_CHARS and notices == ["shortened"] and not q.endswith(" ")
    q, notices = clean_query("a" * 2000)
    assert q == "a" * MAX_QUERY_CHARS and notices == ["shortened"]
    assert clean_query(None) == ("", [])


def test_the_excerpt_marks_the_words_found_and_escapes_the_rest():
    body = "<b>Les</b> parents d'élèves ont parlé des écrans. " + "Du texte. " * 60 + "Encore des parents."
    shown = str(excerpt(body, {"parent"}))
    assert shown.startswith("&lt;b&gt;Les&lt;/b&gt; <mark>parents</mark> d&#39;élèves")
    assert shown.endswith("…") and "<b>" not in shown
    late = str(excerpt("Du texte. " * 60 + "Encore des parents ici.", {"parent"}))
    assert late.startswith("…") and "<mark>parents</mark> ici." in late
    assert str(excerpt("Rien à voir.", {"parent"})) == "Rien à voir."
