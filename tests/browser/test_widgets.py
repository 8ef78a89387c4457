"""The widgets on a partner's site, in Chromium at a phone's width (issue 15 item 2): a page of
another origin shows the agenda through embed.js (the frame takes its content's height: no scroll
bar inside, nothing wider than the phone) and the latest letter through a plain <iframe>."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.helpers import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.integration.parentalites.api_world import seed

# The partner's page, served by Playwright at another origin than the app's (localhost, not
# 127.0.0.1): a cross-origin frame. Chromium asks the user before a page loads anything from a
# loopback address (Local Network Access); a partner's site and the platform are on the internet,
# so that check is off here.
PARTNER_PATH = "/site-du-partenaire.html"
NO_LOCAL_NETWORK_CHECKS = "--disable-features=LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights"


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=[*CHROMIUM_ARGS, NO_LOCAL_NETWORK_CHECKS])
        yield instance
        instance.close()


def _host_page(server: str, structure_id: int) -> str:
    return f"""<!doctype html><html lang="fr"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Site partenaire</title>
<style>body {{ font-family: serif; margin: 1rem; }}</style></head>
<body><h1>Le centre social</h1><p>Nos rendez-vous :</p>
<div data-parentalites-widget="agenda" data-structure="{structure_id}" id="agenda-tilleuls"></div>
<div data-parentalites-widget="agenda" id="agenda-reseau"></div>
<iframe id="lettre" src="{server}/widgets/lettre" title="La dernière lettre" width="100%" height="260"
        style="border:0;max-width:100%" loading="lazy"></iframe>
<script src="{server}/widgets/embed.js" async></script></body></html>"""


def _frame_fits(page, selector: str) -> dict:
    frame = page.locator(selector)
    inner = frame.element_handle().content_frame()
    sizes = inner.evaluate("() => ({content: document.documentElement.scrollHeight,"
                           " width: document.documentElement.scrollWidth,"
                           " viewport: document.documentElement.clientWidth})")
    box = frame.bounding_box()
    return {**sizes, "frame_height": box["height"], "frame_width": box["width"]}


def test_the_widgets_on_a_partners_site_at_a_phones_width(browser, live_server, db, world, artifacts):
    seed(db, world)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    partner_site = live_server.replace("127.0.0.1", "localhost") + PARTNER_PATH
    host_page = _host_page(live_server, world["tilleuls"].id)
    page.route(partner_site, lambda route: route.fulfill(status=200, content_type="text/html", body=host_page))
    page.goto(partner_site)
    agenda = page.frame_locator("#agenda-tilleuls iframe")
    agenda.get_by_role("heading", level=1, name="Prochains événements").wait_for()  # in French
    assert agenda.get_by_role("link", name="Soirée jeux aux Tilleuls").count() == 1
    assert agenda.get_by_role("link", name="Café des parents").count() == 0  # another structure's
    network = page.frame_locator("#agenda-reseau iframe")
    network.get_by_role("link", name="Formation à l'écoute").wait_for()
    letter = page.frame_locator("#lettre")
    letter.get_by_role("link", name="Lettre de test 7").wait_for()
    # embed.js sized each frame to its content (it was 420 px before).
    page.wait_for_function("() => [...document.querySelectorAll('[data-parentalites-widget] iframe')]"
                           ".every(f => f.style.height)")
    for selector in ("#agenda-tilleuls iframe", "#agenda-reseau iframe"):
        fit = _frame_fits(page, selector)
        assert abs(fit["frame_height"] - fit["content"]) <= 2, (selector, fit)  # no scroll bar inside
        assert fit["width"] <= fit["viewport"], (selector, fit)  # nothing wider than the frame
        assert fit["frame_width"] <= PHONE["viewport"]["width"], (selector, fit)
    for name, selector in (("agenda-structure", "#agenda-tilleuls iframe"), ("agenda", "#agenda-reseau iframe"),
                           ("lettre", "#lettre")):
        page.locator(selector).scroll_into_view_if_needed()
        page.locator(selector).screenshot(path=str(artifacts / f"widget-{name}-phone.png"))
    context.close()
