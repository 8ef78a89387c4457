"""A reader searches the archive of letters in a real browser, on a desktop and on a phone: the form
with its label, the results naming the letter and the article, the highlighted words, the link to
the article in its letter, and the PDF link of the letter."""
from __future__ import annotations

import pytest

from tests.browser.helpers import PHONE
from tests.integration.newsletter.test_archive import ARTICLES, publish

SCREENS = {"desktop": {"viewport": {"width": 1280, "height": 900}}, "phone": PHONE}


@pytest.mark.parametrize("screen", SCREENS)
def test_a_reader_searches_the_letters_and_reaches_the_article(browser, live_server, db, world, artifacts,
                                                             captured_jobs, screen):
    from playwright.sync_api import expect
    publish(db, world, 1, ARTICLES[:3])
    publish(db, world, 2, ARTICLES[2:])
    context = browser.new_context(**SCREENS[screen], locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server}/lettres/")
        page.get_by_label("Rechercher dans les lettres").fill("jardins familles")
        page.keyboard.press("Enter")
        expect(page.get_by_role("heading", level=2, name="2 articles pour « jardins familles »")).to_be_visible()
        expect(page.get_by_text("Lettre n°2 : Numéro 2")).to_be_visible()
        expect(page.locator(".search-hits mark").first).to_have_text("jardin")
        # Nothing wider than the screen on a phone.
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        page.screenshot(path=artifacts / f"{screen}-archive-search.png", full_page=True)
        page.get_by_role("link", name="Un jardin partagé pour les familles").first.click()
        expect(page.get_by_role("heading", level=1, name="Numéro 2")).to_be_visible()
        assert "#article-" in page.url
        expect(page.locator(page.url[page.url.index("#"):])).to_be_in_viewport()
        expect(page.get_by_role("link", name="Télécharger en PDF (A4)")).to_have_attribute("href", "/lettres/2.pdf")
        page.goto(f"{live_server}/lettres/?q=" + "parents+" * 300)
        expect(page.get_by_role("status").first).to_contain_text("seuls ses 200 premiers caractères")
        page.screenshot(path=artifacts / f"{screen}-archive-search-long.png", full_page=True)
    finally:
        context.close()
