"""The statistics page in a real browser, on a desktop and on a phone: every plot loads (an SVG
image per figure), nothing overflows the screen sideways, and the period form changes the period."""
from __future__ import annotations

import re

import pytest

from tests.browser.helpers import PHONE, log_in
from tests.integration.parentalites.test_statistics import seeded  # noqa: F401  (the fixture)

DESKTOP = {"viewport": {"width": 1280, "height": 900}}



@pytest.mark.parametrize("screen", ["desktop", "phone"])
def test_the_plots_load_and_the_page_fits_the_screen(browser, live_server, db, world, seeded,  # noqa: F811
                                                       artifacts, screen):
    from playwright.sync_api import expect
    context = browser.new_context(**(PHONE if screen == "phone" else DESKTOP), locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        log_in(page, live_server)
        page.goto(f"{live_server}/redaction/statistiques/")
        page.get_by_label("Du").fill("2026-01-01")
        page.get_by_label("Au (inclus)").fill("2026-12-31")
        page.get_by_role("button", name="Afficher").click()
        page.wait_for_url(re.compile(r"du=2026-01-01&au=2026-12-31"))
        expect(page.get_by_role("heading", level=1)).to_have_text("Statistiques")
        expect(page.get_by_text("Aucun pixel de suivi", exact=False)).to_be_visible()
        images = page.locator(".statistic-plot img")
        assert images.count() == 14
        for index in range(images.count()):  # lazy images load when they come near the screen
            images.nth(index).scroll_into_view_if_needed()
        loaded = ("Array.from(document.querySelectorAll('.statistic-plot img'))"
                  ".every(i => i.complete && i.naturalWidth > 0)")
        for _ in range(100):  # (wait_for_function evaluates a string: the page's CSP forbids it)
            if page.evaluate(f"() => {loaded}"):
                break
            page.wait_for_timeout(200)
        assert page.evaluate(f"() => {loaded}"), "a plot did not load"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], width
        expect(page.get_by_role("table", name=re.compile("Lettres et invitations envoyées"))).to_be_visible()
        page.screenshot(path=artifacts / f"{screen}-statistics.png", full_page=True)
    finally:
        context.close()
