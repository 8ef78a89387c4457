"""The read-only JSON API (/api/, issue 15 item 1): each endpoint with its filters and pages, the
404s, ETag and 304, CORS, the rate limit, forged cursors and long searches, and that no address
of a person ever leaves through it."""
from __future__ import annotations

from datetime import timedelta

import pytest

from core.db import utcnow
from core.formatting import PARIS
from tests.integration.parentalites.api_world import personal_addresses, seed

pytestmark = pytest.mark.usefixtures("world")


@pytest.fixture
def seeded(db, world):
    return seed(db, world)


def _json(client, url, status=200):
    response = client.get(url)
    assert response.status_code == status, (url, response.status_code, response.get_data(as_text=True)[:300])
    assert response.mimetype == "application/json"
    return response.get_json()


def test_the_openapi_document_names_every_endpoint(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"] == "*"
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    assert set(spec["paths"]) == {"/api/events", "/api/events/{event_id}", "/api/partner-events/{contribution_id}",
                                  "/api/actions", "/api/actions/{fiche_id}", "/api/letters", "/api/letters/{numero}"}
    assert all(set(item) <= {"get", "parameters"} for item in spec["paths"].values())  # read-only


def test_upcoming_events_the_networks_and_the_partners_soonest_first(client, seeded):
    page = _json(client, "/api/events")
    titles = [e["title"] for e in page["items"]]
    assert titles == ["Soirée-rencontre du Réaap", "Soirée jeux aux Tilleuls", "Café des parents",
                      "Formation à l'écoute"]  # not the past one, not the unmoderated one
    assert page["total"] == 4 and page["next"] is None
    soiree, partner = page["items"][0], page["items"][1]
    assert soiree["source"] == "reseau" and soiree["type"] == "soiree_reaap"
    assert soiree["type_label"] == "Soirée-rencontre du Réaap" and soiree["registration_open"] is True
    assert soiree["url"] == f"https://parentalites.test/api/events/{seeded['soiree'].id}"
    assert soiree["page_url"] == f"https://parentalites.test/agenda/{seeded['soiree'].id}/"
    assert "<strong>" not in soiree["description_html"] and soiree["description_md"] == "Échanges."
    assert partner["source"] == "partenaire" and partner["structure"]["name"] == "Centre social Les Tilleuls"
    assert partner["description_html"] == "<p>Venez <strong>jouer</strong>.</p>\n"
    assert partner["contact"] == "Accueil : 01 23 45 67 89"  # the structure's, shown on its page


def test_events_by_type_commune_period_and_structure(client, seeded, world):
    def titles(query):
        return [e["title"] for e in _json(client, "/api/events?" + query)["items"]]
    assert titles("type=formation") == ["Formation à l'écoute"]
    assert titles("type=partenaire") == ["Soirée jeux aux Tilleuls", "Café des parents"]
    assert titles("commune=MONTREUIL") == ["Café des parents", "Formation à l'écoute"]  # the structure's, the address
    assert titles("commune=bobigny") == ["Soirée-rencontre du Réaap", "Soirée jeux aux Tilleuls"]
    assert titles(f"structure={world['asso'].id}") == ["Café des parents"]
    soon = (utcnow() + timedelta(days=15)).astimezone(PARIS).date()
    assert titles(f"to={soon.isoformat()}") == ["Soirée-rencontre du Réaap"]
    assert titles(f"from={soon.isoformat()}") == ["Soirée jeux aux Tilleuls", "Café des parents",
                                                   "Formation à l'écoute"]
    long_ago = (utcnow() - timedelta(days=60)).astimezone(PARIS).date()
    assert titles(f"from={long_ago.isoformat()}")[0] == "Soirée passée"
    assert titles("type=formation&commune=Bobigny") == []


def test_bad_event_filters_are_clear_json_errors(client, seeded):
    error = _json(client, "/api/events?type=concert", status=422)
    assert "Type inconnu" in error["errors"]["query"]["type"][0]
    error = _json(client, "/api/events?from=demain", status=422)
    assert error["errors"]["query"]["from"] == ["Une date au format AAAA-MM-JJ est attendue."]
    assert _json(client, "/api/events?limit=0", status=422)["errors"]["query"]["limit"] == ["Entre 1 et 50."]
    assert _json(client, "/api/events?structure=99999999999999", status=422)["code"] == 422


def test_pages_follow_the_next_cursor_to_the_end(client, seeded):
    seen, url, pages = [], "/api/events?limit=3", 0
    while url:
        page = _json(client, url.removeprefix("https://parentalites.test"))
        seen += [(e["source"], e["id"]) for e in page["items"]]
        url, pages = page["next_url"], pages + 1
    assert pages == 2 and len(seen) == 4 == len(set(seen))
    first = _json(client, "/api/letters?limit=1")
    assert first["next"] is None and first["total"] == 1


def test_a_forged_or_truncated_cursor_is_a_400_never_a_500(client, seeded):
    real = _json(client, "/api/events?limit=1")["next"]
    for cursor in ("forged", real[:-3] + "abc", "eyJwYWdlIjo5OTk5OTk5fQ.x", "a" * 5000, "%00"):
        for endpoint in ("events", "actions", "letters"):
            error = _json(client, f"/api/{endpoint}?cursor={cursor}", status=400)
            assert error["message"].startswith("Curseur de page invalide")


def test_one_event_and_a_missing_one(client, seeded):
    assert _json(client, f"/api/events/{seeded['past'].id}")["title"] == "Soirée passée"
    partner = seeded["partner_events"][0]
    assert _json(client, f"/api/partner-events/{partner.id}")["structure"]["commune"] == "Bobigny"
    assert _json(client, f"/api/partner-events/{seeded['pending'].id}", status=404)["code"] == 404
    assert _json(client, f"/api/partner-events/{seeded['soiree'].id + 10_000}", status=404)
    assert _json(client, "/api/events/2147483648", status=404)["status"] == "Not Found"
    assert _json(client, "/api/ailleurs", status=404)["message"].startswith("Cette adresse n'existe pas")


def test_the_directory_searches_in_french_with_its_facets(client, seeded):
    page = _json(client, "/api/actions?q=gouters")
    assert [f["title"] for f in page["items"]] == ["Un goûter des familles"]
    page = _json(client, "/api/actions?mot_cle=PARENTALIT%C3%89&departement=Seine-Saint-Denis")
    assert sorted(f["title"] for f in page["items"]) == ["Jardin partagé parents-enfants", "Un goûter des familles"]
    keywords = next(f for f in page["facets"] if f["name"] == "mot_cle")
    assert {"value": "Parentalité", "label": "Parentalité", "count": 2, "selected": True} in keywords["values"]
    assert page["items"][0]["departement_label"] == "Seine-Saint-Denis (93)"
    everything = _json(client, "/api/actions?limit=2")
    assert everything["total"] == 3 and everything["next"] is not None  # the hidden fiche is not counted
    rest = _json(client, "/api/actions?limit=2&cursor=" + everything["next"])
    assert len(rest["items"]) == 1 and rest["next"] is None


def test_a_2000_character_search_is_cut_not_refused(client, seeded):
    page = _json(client, "/api/actions?q=" + "famille " * 250)
    assert len(page["query"]) <= 200 and page["total"] >= 1
    assert _json(client, "/api/actions?q=" + "é" * 2000)["total"] == 0
    for odd in ("%00", "%22%22%22", "-", "or", "%F0%9F%98%80", "%EF%BF%BF"):  # NUL, quotes alone, an emoji…
        _json(client, "/api/actions?q=" + odd + "&mot_cle=" + odd + "&annee=" + odd)
        _json(client, "/api/events?commune=" + odd)


def test_one_fiche_and_a_hidden_one(client, seeded):
    fiche = _json(client, f"/api/actions/{seeded['fiches'][0].id}")
    assert fiche["summary"] == "Résumé 0." and fiche["keywords"] == ["Parentalité", "Goûter"]
    assert fiche["contact"] == "Centre social Les Tilleuls, 01 48 00 00 00" and fiche["files"] == []
    assert fiche["page_url"] == f"https://parentalites.test/actions/{seeded['fiches'][0].id}/"
    _json(client, f"/api/actions/{seeded['hidden_fiche'].id}", status=404)


def test_the_sent_letters_and_one_letter(client, seeded):
    page = _json(client, "/api/letters")
    assert [(item["numero"], item["title"]) for item in page["items"]] == [(7, "Lettre de test 7")]
    letter = _json(client, "/api/letters/7")
    assert "Article 7.0" in letter["html"] and letter["page_url"] == "https://parentalites.test/lettres/7/"
    _json(client, "/api/letters/8", status=404)  # a draft


def test_etag_and_304(client, db, seeded):
    first = client.get("/api/events")
    etag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get("/api/events", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert client.get("/api/events?type=formation", headers={"If-None-Match": etag}).status_code == 200
    seeded["formation"].title = "Formation renommée"
    db.commit()
    changed = client.get("/api/events", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag


def test_cors_is_open_for_get_on_answers_and_errors(client, seeded):
    for url in ("/api/events", "/api/letters/7", "/api/letters/99", "/api/events?cursor=x", "/api/openapi.json"):
        assert client.get(url, headers={"Origin": "https://partenaire.example"}).headers[
            "Access-Control-Allow-Origin"] == "*", url
    assert "Access-Control-Allow-Origin" not in client.get("/agenda/").headers  # the site itself stays closed


def test_the_rate_limit_answers_429_in_json(db, world):
    from parentalites.app import create_app
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                      "RATELIMIT_STORAGE_URI": "memory://", "API_RATE_LIMIT": "3 per minute"})
    client = app.test_client()
    statuses = [client.get("/api/letters").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/events")
    assert limited.status_code == 429 and limited.mimetype == "application/json"
    assert limited.get_json()["code"] == 429 and limited.headers["Access-Control-Allow-Origin"] == "*"
    other = app.test_client().get("/api/events", environ_base={"REMOTE_ADDR": "198.51.100.8"})
    assert other.status_code == 200  # per client


def test_no_address_of_a_person_ever_leaves_through_the_api(client, seeded, world):
    urls = ["/api/events", "/api/events?from=2000-01-01", "/api/actions", "/api/letters", "/api/letters/7",
            f"/api/events/{seeded['soiree'].id}", f"/api/events/{seeded['past'].id}"]
    urls += [f"/api/partner-events/{c.id}" for c in seeded["partner_events"]]
    urls += [f"/api/actions/{f.id}" for f in seeded["fiches"]]
    addresses = personal_addresses(world, seeded)
    for url in urls:
        body = _json(client, url)
        text = str(body).lower()
        for address in addresses:
            assert address.lower() not in text, (url, address)
        assert "@" not in text, url  # no address at all, whoever's (this world's letter names none)

