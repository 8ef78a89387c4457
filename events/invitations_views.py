"""Back office: invite subscribers to an event (choose a segment, see the count, confirm, send),
the list of invitations, and each invitation's page with the mail-out progress (the same
component, JSON endpoint and pause/resume/cancel routes as a letter's)."""
from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField

from accounts import journal
from accounts.auth import editor_required
from core.db import session
from core.forms import TestSendForm
from core.web import EMAIL_PAGE_CSP
from events import invitations
from events.models import Event
from newsletter import mailout
from newsletter.models import Issue
from subscribers import segments
from subscribers.forms import SegmentFormMixin

invitations_bp = Blueprint("invitations", __name__, url_prefix="/redaction")

journal.register_actions({"event.invitation_sent": _l("Invitation à un événement envoyée"),
                          "event.invitation_test_sent": _l("Invitation à un événement : essai")})


class InvitationForm(SegmentFormMixin, FlaskForm):
    expected = HiddenField()
    confirm = BooleanField(_l("Je confirme l'envoi"))


def _event(event_id: int) -> Event:
    return session().get(Event, event_id) or abort(404)


@invitations_bp.route("/evenements/<int:event_id>/inviter", methods=["GET", "POST"])
@editor_required
def invite(event_id: int):
    """GET: the segment prefilled from the event's audience and its count. POST "count": the count
    of the new selection. POST "send": sends if confirmed and the count is still the one shown."""
    db = session()
    event = _event(event_id)
    form = InvitationForm()
    form.fill_choices(db)
    if request.method == "GET":  # start from the event's audience
        try:
            audience = segments.normalize(event.audience)
        except segments.SegmentError:
            audience = None
        form.fill(audience)
    segment = form.segment() if form.validate_on_submit() or request.method == "GET" else None
    count = invitations.count_recipients(db, event, segment)
    if request.method == "POST" and not form.errors and request.form.get("action") == "send":
        if not form.confirm.data:
            flash(_("Cochez la case de confirmation avant d'envoyer l'invitation."), "error")
        elif form.expected.data != str(count):
            flash(_("La sélection a changé : vérifiez le nombre de destinataires, puis confirmez de nouveau."), "error")
        else:
            try:
                issue = invitations.send(db, current_user, event, segment)
            except (invitations.InvitationError, segments.SegmentError) as exc:
                flash(str(exc), "error")
            else:
                journal.record(db, current_user._get_current_object(), "event.invitation_sent",
                               f"Invitation à « {event.title} » envoyée à {count} abonné·e·s "
                               f"({segments.describe(segment)})", target=f"event:{event.id}")
                flash(_("Invitation en cours d'envoi à %(n)s abonné·e·s.", n=count), "success")
                return redirect(url_for(".invitation", issue_id=issue.id))
    form.expected.data = str(count)
    form.confirm.data = False
    return render_template(
        "redaction/invite.html", event=event, form=form, count=count,
        description=segments.describe(segment), already=invitations.already_invited_count(db, event),
        previous=invitations.list_invitations(db, event.id), test_form=TestSendForm()), 422 if form.errors else 200


@invitations_bp.route("/evenements/<int:event_id>/inviter/test", methods=["POST"])
@editor_required
def send_test(event_id: int):
    event = _event(event_id)
    form = TestSendForm()
    if form.validate_on_submit():
        invitations.send_test(session(), event, form.address.data)
        journal.record(session(), current_user._get_current_object(), "event.invitation_test_sent",
                       f"Essai de l'invitation à « {event.title} » envoyé à {form.address.data}",
                       target=f"event:{event.id}")
        flash(_("Envoi de test parti vers %(address)s.", address=form.address.data), "success")
    else:
        for error in form.address.errors:
            flash(error, "error")
    return redirect(url_for(".invite", event_id=event.id))


@invitations_bp.route("/evenements/<int:event_id>/inviter/apercu")
@editor_required
def preview(event_id: int):
    event = _event(event_id)
    try:
        rendered = invitations.preview(event)
    except invitations.InvitationError as exc:
        abort(404, str(exc))
    if request.args.get("format") == "texte":
        return Response(rendered.text, mimetype="text/plain")
    return Response(rendered.html, mimetype="text/html", headers={"Content-Security-Policy": EMAIL_PAGE_CSP})


@invitations_bp.route("/invitations/")
@editor_required
def invitations_list():
    db = session()
    issues = invitations.list_invitations(db)
    return render_template("redaction/invitations.html", issues=issues,
                           events=invitations.events_by_id(db, issues),
                           upcoming=invitations.invitable_events(db), describe=segments.describe)


@invitations_bp.route("/invitations/<int:issue_id>")
@editor_required
def invitation(issue_id: int):
    db = session()
    issue = db.get(Issue, issue_id)
    if issue is None or issue.kind != invitations.KIND:
        abort(404)
    progress = mailout.shown_progress(db, issue)
    event = db.get(Event, issue.event_id) if issue.event_id else None
    return render_template("redaction/invitation.html", issue=issue, event=event, progress=progress,
                           failures=mailout.failed_deliveries(db, issue.id) if progress else [],
                           description=segments.describe(issue.segment))
