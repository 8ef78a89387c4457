"""A real browser on the real stack: Debian's Chromium driven by Playwright (sync API), the real Flask
app served over HTTP with CSRF on, a real Celery worker, PostgreSQL, Redis and a real SMTP server.

Subscribe → confirmation e-mail → confirm → letter received → one-click unsubscribe → no further letter.
"""
from __future__ import annotations

import re

from newsletter import mailout
from subscribers.models import Subscriber, SubscriberStatus
from tests.browser.helpers import BASE_URL, PHONE, local
from tests.integration.helpers import compose, letters, people, wait_for, wait_sent

EMAIL = "camille.browser@example.org"


def status_of(db, email: str) -> SubscriberStatus:
    db.expire_all()
    return db.query(Subscriber).filter_by(email=email).one().status


# --- The scenario ---------------------------------------------------------------------------------

def test_subscribe_confirm_receive_unsubscribe_in_a_real_browser(
        browser, live_server, db, world, smtp, celery_worker, artifacts):
    from playwright.sync_api import expect
    # Someone else, already subscribed: issue 2 must reach them, so "no letter" cannot be vacuous.
    [other] = people(db, 1, prefix="temoin")

    context = browser.new_context(**PHONE, locale="fr-FR")
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        # 1. Subscribe with the form, found by its accessible labels.
        response = page.goto(live_server + "/abonnement")
        assert response.status == 200
        page.screenshot(path=artifacts / "phone-1-subscribe.png", full_page=True)
        page.get_by_label("Adresse e-mail").fill(EMAIL)
        page.get_by_label("Nom et prénom").fill("Camille Navigateur")
        page.get_by_label(re.compile(r"^J'accepte")).check()
        page.get_by_role("button", name="S'abonner").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Vérifiez vos e-mails")
        assert page.url == live_server + "/abonnement/verifiez-vos-e-mails"
        page.screenshot(path=artifacts / "phone-2-check-inbox.png", full_page=True)

        # 2. The worker records the subscription (the form only enqueued a job) and sends the
        # confirmation e-mail; its link confirms.
        [confirmation] = wait_for(lambda: smtp.to(EMAIL), 60, message="the confirmation e-mail")
        assert status_of(db, EMAIL) is SubscriberStatus.pending
        text = confirmation.message.get_body(("plain",)).get_content()
        links = re.findall(re.escape(BASE_URL) + r"/abonnement/confirmer/\S+", text)
        assert len(links) == 1, text
        response = page.goto(local(links[0], live_server))
        assert response.status == 200
        expect(page.get_by_role("heading", level=1)).to_have_text("Abonnement confirmé")
        page.screenshot(path=artifacts / "phone-3-confirmed.png", full_page=True)
        assert status_of(db, EMAIL) is SubscriberStatus.active

        # 3. Issue 1 reaches them; its List-Unsubscribe link works in the browser.
        issue1 = compose(db, world, numero=1)
        mailout.request_send(db, issue1)
        db.commit()
        wait_sent(db, issue1.id)
        mine = [m for m in letters(smtp) if EMAIL in m.recipients]
        assert len(mine) == 1
        header = mine[0].message["List-Unsubscribe"].strip()
        match = re.fullmatch(r"<(https://[^>]+)>", header)
        assert match, header
        unsubscribe_url = local(match.group(1), live_server)

        response = page.goto(unsubscribe_url)
        assert response.status == 200
        expect(page.get_by_role("heading", level=1)).to_have_text("Se désabonner")
        expect(page.get_by_text(EMAIL)).to_be_visible()
        page.screenshot(path=artifacts / "phone-4-unsubscribe.png", full_page=True)
        assert status_of(db, EMAIL) is SubscriberStatus.active  # GET alone never unsubscribes

        page.get_by_role("button", name="Me désabonner").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Vous êtes désabonné·e")
        page.screenshot(path=artifacts / "phone-5-unsubscribed.png", full_page=True)
        assert status_of(db, EMAIL) is SubscriberStatus.unsubscribed

        # 4. Issue 2 reaches the other subscriber, not them.
        issue2 = compose(db, world, numero=2)
        mailout.request_send(db, issue2)
        db.commit()
        wait_sent(db, issue2.id)
        def issue_2_to(address):
            return [m for m in letters(smtp) if address in m.recipients
                    and m.message["Subject"].startswith("Lettre Parentalités n°2")]
        assert len(issue_2_to(other.email)) == 1
        assert issue_2_to(EMAIL) == []
        assert len([m for m in letters(smtp) if EMAIL in m.recipients]) == 1

        # Phone layout: nothing wider than the screen on the pages seen.
        for path in ("/abonnement", "/abonnement/verifiez-vos-e-mails", unsubscribe_url.removeprefix(live_server)):
            page.goto(live_server + path)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} overflows horizontally on a phone: {width}px"
    finally:
        context.close()


def test_subscribe_page_works_with_the_keyboard(browser, live_server, db, artifacts):
    from playwright.sync_api import expect
    for name, options in (("desktop", {"viewport": {"width": 1280, "height": 900}}), ("phone", PHONE)):
        context = browser.new_context(**options, locale="fr-FR")
        page = context.new_page()
        page.set_default_timeout(15_000)
        try:
            page.goto(live_server + "/abonnement")
            # First Tab from a fresh load: the skip link, visible once focused.
            page.keyboard.press("Tab")
            focused = page.evaluate("[document.activeElement.tagName, document.activeElement.className,"
                                    " document.activeElement.textContent.trim(),"
                                    " document.activeElement.getAttribute('href')]")
            assert focused == ["A", "skip-link", "Aller au contenu", "#contenu"], focused
            skip = page.get_by_role("link", name="Aller au contenu")
            expect(skip).to_be_focused()
            expect(skip).to_be_in_viewport()
            if name == "phone":
                page.screenshot(path=artifacts / "phone-0-skip-link.png")

            # Submit the empty form from the keyboard: error summary shown and focused.
            page.get_by_label("Adresse e-mail").focus()
            page.keyboard.press("Enter")
            summary = page.get_by_role("alert")
            expect(summary).to_be_visible()
            expect(summary).to_be_focused()
            expect(summary).to_contain_text("Le formulaire contient des erreurs")
            expect(summary).not_to_contain_text("La page a expiré")  # the CSRF token was accepted
            email = page.get_by_label("Adresse e-mail")
            expect(email).to_have_attribute("aria-invalid", "true")
            expect(email).to_have_attribute("aria-describedby", "email-error")
            expect(page.get_by_label("Nom et prénom")).to_have_attribute("aria-invalid", "true")
            expect(page.get_by_label(re.compile(r"^J'accepte"))).to_have_attribute("aria-invalid", "true")
            page.screenshot(path=artifacts / f"{name}-subscribe-errors.png", full_page=True)

            # The summary's links move focus to the field in error.
            summary.get_by_role("link").first.click()
            expect(email).to_be_focused()
        finally:
            context.close()
