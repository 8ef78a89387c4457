"""The embeddable widgets (issue 15 item 2): the next events and the latest letter as pages any
site may frame (and only they), filtered to a structure, accessible; embed.js; the snippet a
structure's page offers."""
from __future__ import annotations

from lxml import html as lxml_html

from parentalites.widgets import network_colour
from tests.integration.helpers import login
from tests.integration.parentalites.api_world import REGISTRANT, seed


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response, lxml_html.fromstring(response.get_data(as_text=True))


def test_the_agenda_widget_may_be_framed_by_any_site_and_the_site_may_not(client, db, world):
    seed(db, world)
    response, _tree = _page(client, "/widgets/agenda")
    assert "X-Frame-Options" not in response.headers
    assert "frame-ancestors *" in response.headers["Content-Security-Policy"]
    assert "script-src 'self' 'nonce-" in response.headers["Content-Security-Policy"]  # the rest unchanged
    for url in ("/agenda/", "/lettres/", "/actions/", "/widgets/embed.js"):
        other = client.get(url)
        assert other.headers["X-Frame-Options"] == "SAMEORIGIN", url
        assert "frame-ancestors 'self'" in other.headers["Content-Security-Policy"], url


def test_the_agenda_widget_lists_the_next_events_accessibly(client, db, world):
    seeded = seed(db, world)
    _response, tree = _page(client, "/widgets/agenda")
    assert tree.get("lang") == "fr" and len(tree.xpath("//h1")) == 1
    titles = [" ".join(h.text_content().split()) for h in tree.xpath("//li/h2")]
    assert titles == ["Soirée-rencontre du Réaap", "Soirée jeux aux Tilleuls", "Café des parents",
                      "Formation à l'écoute"]
    links = tree.xpath("//a")
    assert links and all(a.get("target") == "_top" for a in links)
    assert all(a.get("href").startswith("https://parentalites.test/") for a in links)
    assert f"https://parentalites.test/agenda/{seeded['soiree'].id}/" in [a.get("href") for a in links]
    assert tree.xpath("//meta[@name='viewport']") and tree.xpath("//time/@datetime")
    assert REGISTRANT not in lxml_html.tostring(tree, encoding="unicode")
    _response, tree = _page(client, "/widgets/agenda?limit=2")
    assert len(tree.xpath("//li")) == 2 and "Voir tout l'agenda" in tree.text_content()


def test_the_agenda_widget_of_one_structure_shows_its_events_only(client, db, world):
    seed(db, world)
    _response, tree = _page(client, f"/widgets/agenda?structure={world['asso'].id}")
    assert [" ".join(h.text_content().split()) for h in tree.xpath("//li/h2")] == ["Café des parents"]
    assert "Association Parents Ensemble" in tree.xpath("//h1")[0].text_content()
    for bad in ("999999", "abc", "-1", "1e9", "99999999999999999999"):
        assert client.get(f"/widgets/agenda?structure={bad}").status_code == 404, bad
    _response, tree = _page(client, "/widgets/agenda?limit=abc")  # a bad limit: the default
    assert len(tree.xpath("//li")) == 4


def test_the_letter_widget_shows_the_latest_sent_letter(client, db, world):
    _response, tree = _page(client, "/widgets/lettre")
    assert "Aucune lettre n'a encore été publiée." in tree.text_content()
    seed(db, world)
    response, tree = _page(client, "/widgets/lettre")
    assert "X-Frame-Options" not in response.headers
    [link] = tree.xpath("//h2/a")
    assert link.get("href") == "https://parentalites.test/lettres/7/" and link.get("target") == "_top"
    assert "Lettre de test 7" in link.text_content()


def test_the_widgets_wear_the_networks_colour(client):
    css = client.get("/widgets/lettre").get_data(as_text=True)
    assert f"--brand: {network_colour()};" in css and "--brand-text: #ffffff;" in css


def test_embed_js_is_served_as_a_script(client):
    response = client.get("/widgets/embed.js")
    assert response.status_code == 200 and response.mimetype == "text/javascript"
    assert "parentalites:height" in response.get_data(as_text=True)


def test_a_structures_page_offers_its_snippet(app, db, world):
    client = app.test_client()
    login(client, "redaction@reaap.test", "mdp-redaction")
    structure_id = world["tilleuls"].id
    _response, tree = _page(client, f"/redaction/structures/{structure_id}")
    [iframe_code] = tree.xpath("//textarea[@id='widget-iframe']")
    assert iframe_code.get("readonly") is not None and tree.xpath("//label[@for='widget-iframe']")
    snippet = lxml_html.fragment_fromstring(iframe_code.text_content())
    assert snippet.tag == "iframe" and snippet.get("title")
    assert snippet.get("src") == f"https://parentalites.test/widgets/agenda?structure={structure_id}"
    script_code = tree.xpath("//textarea[@id='widget-script']")[0].text_content()
    assert f'data-structure="{structure_id}"' in script_code
    assert 'src="https://parentalites.test/widgets/embed.js"' in script_code
    assert tree.xpath("//textarea[@id='widget-letter']")


def test_a_partners_space_offers_its_structures_snippet(app, db, world):
    client = app.test_client()
    login(client, "julien@asso.test", "mdp-autre")
    _response, tree = _page(client, "/partenaires/")
    code = tree.xpath("//textarea[@id='widget-iframe']")[0].text_content()
    assert f"/widgets/agenda?structure={world['asso'].id}" in code
