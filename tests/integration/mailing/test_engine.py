"""Personal slots are the template's only: text written by partners, feeds or editors never opens
one, on the real stack (PostgreSQL, a Celery worker, an SMTP server)."""
from __future__ import annotations

import html

from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from newsletter import issues
from newsletter.models import Issue, IssueStatus
from subscribers import segments
from tests.integration.helpers import compose, letters, login, people, wait_sent

SLOTS = "Lien %%unsubscribe_url%% et %%preferences_url%%, %%greeting%% %%nimporte%% %%%a%%% %%"


def test_slot_names_in_partner_and_editor_text_stay_text_in_previews_and_in_every_letter(
        client, db, world, smtp, celery_worker):
    readers = people(db, 2)
    issue = compose(db, world, articles=1)
    issue.edito_md = f"Édito : {SLOTS}"
    c = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title=f"Titre {SLOTS}", body_md=f"Corps : {SLOTS}"))
    contributions.decide(db, world["editor"], c, S.accepted)
    issues.add_item(db, issue, c)
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    for kind in ("email", "texte", "web"):
        response = client.get(f"/redaction/numeros/{issue.id}/apercu/{kind}")
        assert response.status_code == 200, kind
        assert "%%unsubscribe_url%%" in html.unescape(response.get_data(as_text=True)).replace("\u200b", "")
    audience = str(segments.count(db, issue.segment))  # the count the composer showed, confirmed with the send
    assert client.post(f"/redaction/numeros/{issue.id}/envoyer",
                       data={"confirm": "1", "expected": audience}).status_code == 302
    sent = wait_sent(db, issue.id)
    assert sent.status is IssueStatus.sent and not sent.send_error
    received = letters(smtp)
    assert sorted(m.recipients[0] for m in received) == sorted(r.email for r in readers)
    for reader, message in ((r, next(m for m in received if m.recipients[0] == r.email)) for r in readers):
        text = message.message.get_body(("plain",)).get_content()
        page = html.unescape(message.message.get_body(("html",)).get_content())
        for part in (text, page):
            # The template's own slots are filled: the reader's links, once each in the footer.
            assert part.count(reader.unsubscribe_token) == 2, part  # unsubscribe and preferences links
            assert "Zoé" in part
            assert "%%unsubscribe_url%%" in part.replace("\u200b", ""), part
            assert "%%nimporte%%" in part.replace("\u200b", "")
    assert db.get(Issue, issue.id).status is IssueStatus.sent


def test_slot_names_in_an_event_stay_text_in_its_invitation(db):
    from events import invitations
    from tests.integration.helpers import make_event
    event = make_event(db, title=f"Soirée {SLOTS}", description_md=f"Description {SLOTS}", place=SLOTS)
    rendered = invitations.render_invitation(invitations.Issue(kind=invitations.KIND, event_id=event.id,
                                                               title="x"), event)
    # Only the template's three slots, each where the template put it (greeting, two footer links).
    from mailing.engine import SLOT_RE
    assert sorted(SLOT_RE.findall(rendered.text)) == ["greeting", "preferences_url", "unsubscribe_url"]
    assert sorted(SLOT_RE.findall(rendered.html)) == ["greeting", "preferences_url", "unsubscribe_url"]
    shown = invitations.preview(event)
    assert "%%nimporte%%" in html.unescape(shown.html) and "%%nimporte%%" in shown.text.replace("\u200b", "")
