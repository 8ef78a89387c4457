"""Public pages (home, archive of letters, Atom feed) and the editor's issue composer."""
from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as http_session
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select

from accounts import journal
from accounts.auth import editor_required
from contributions import rubriques
from contributions import services as contributions
from contributions.models import Contribution
from core.db import session, utcnow
from core.formatting import date_time, format_duration
from core.forms import EmptyForm, TestSendForm
from core.http_cache import cacheable, not_modified, page_etag, page_last_modified, uncached
from core.web import EMAIL_PAGE_CSP, small_int
from mailing import engine
from newsletter import agenda, archive, archive_search, letter_pdf, mailout
from newsletter import issues as issue_service
from newsletter.forms import AddItemForm, IssueForm, LetterSegmentForm, RubriqueForm, ScheduleForm
from newsletter.models import Issue, IssueKind, IssueStatus, LetterPdf
from subscribers import segments

ISSUE_STATUS_LABELS = {
    IssueStatus.draft: _l("Brouillon"), IssueStatus.scheduled: _l("Programmé"),
    IssueStatus.sending: _l("En cours d'envoi"), IssueStatus.paused: _l("En pause"),
    IssueStatus.sent: _l("Envoyé"), IssueStatus.cancelled: _l("Annulé"),
}

public_bp = Blueprint("public", __name__)


@public_bp.app_template_global()
def issue_status_label(issue: Issue) -> str:
    if issue.is_starting:  # sending asked for and due: shown as being sent at once
        return str(ISSUE_STATUS_LABELS[IssueStatus.sending])
    return str(ISSUE_STATUS_LABELS[issue.status])


@public_bp.app_template_global()
def issue_status_class(issue: Issue) -> str:
    return IssueStatus.sending.value if issue.is_starting else issue.status.value


STALLED_AFTER_SECONDS = 120  # a due issue no worker has started by then: say so and offer to unschedule


@public_bp.app_template_global()
def issue_send_stalled(issue: Issue) -> bool:
    return bool(issue.is_starting and issue.scheduled_at
                and (utcnow() - issue.scheduled_at).total_seconds() > STALLED_AFTER_SECONDS)
redaction_bp = Blueprint("redaction", __name__, url_prefix="/redaction")


# --- Public -------------------------------------------------------------------------------------

@public_bp.route("/")
def home():
    return render_template("public/home.html", issues=archive.published_issues(session())[:3])


# How long a shared cache or a browser may keep a frozen page before asking again (then a 304).
LETTER_MAX_AGE = 600
PDF_MAX_AGE = 86_400
FEED_MAX_AGE = 300
PAGE_VARY = ("Accept-Language", "Cookie")  # the language is chosen by either; a session names a reader

SEARCH_NOTICES = {
    "shortened": _l("Votre recherche était très longue : seuls ses %(n)s premiers caractères ont été cherchés."),
    "too_many_terms": _l("Votre recherche comptait beaucoup de mots : seuls les %(n)s premiers ont été cherchés."),
    "no_words": _l("Votre recherche ne contient aucun mot à chercher (les mots très courants comme « le » ou "
                   "« de » et les signes seuls sont ignorés). Essayez avec d'autres mots."),
}


def _names_its_reader() -> bool:
    """A page that must not be shared by caches: a signed-in reader's menu, a message to show once,
    a language cookie being set."""
    return bool(current_user.is_authenticated or http_session.get("_flashes") or "lang" in request.args)


@public_bp.route("/lettres/")
def letters():
    q = request.args.get("q")
    if q is not None:
        page = small_int(request.args.get("page"), 1) or 1
        result = archive_search.search(session(), q, page=page)
        notices = [str(SEARCH_NOTICES[n]) % {"n": archive_search.MAX_QUERY_CHARS if n == "shortened"
                                              else archive_search.MAX_TERMS}
                   for n in result.notices]
        return render_template("public/letters_search.html", result=result, notices=notices)
    return render_template("public/letters.html", issues=archive.published_issues(session()))


@public_bp.route("/lettres/<int:numero>/")
def letter(numero: int):
    version = archive.published_version(session(), numero) or abort(404)
    if _names_its_reader():
        issue = archive.published_issue(session(), numero) or abort(404)
        return uncached(make_response(render_template("public/letter.html", issue=issue)))
    # Frozen when sent: the page changes only with the language or a new release of the site.
    issue_id, published_at = version
    etag = page_etag("letter", issue_id, published_at.isoformat(), get_locale())
    last_modified = page_last_modified(published_at)
    current = not_modified(etag, last_modified, LETTER_MAX_AGE, PAGE_VARY)
    if current is not None:
        return current  # nothing rendered, the frozen HTML not even read
    issue = archive.published_issue(session(), numero) or abort(404)
    return cacheable(make_response(render_template("public/letter.html", issue=issue)), max_age=LETTER_MAX_AGE,
                     etag=etag, last_modified=last_modified, vary=PAGE_VARY)


@public_bp.route("/lettres/<int:numero>.pdf")
def letter_pdf_file(numero: int):
    db = session()
    issue = archive.published_issue(db, numero) or abort(404)
    kept = db.execute(select(LetterPdf.sha256, LetterPdf.made_at).where(LetterPdf.issue_id == issue.id)).first()
    if kept is not None:
        current = not_modified(kept.sha256, kept.made_at, PDF_MAX_AGE)
        if current is not None:
            return current
    pdf = letter_pdf.pdf_of(db, issue)  # made now if its job failed or never ran
    if pdf is None:
        return render_template("errors/pdf_unavailable.html", issue=issue), 503
    response = Response(pdf.data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{letter_pdf.pdf_filename(issue)}"'})
    return cacheable(response, max_age=PDF_MAX_AGE, etag=pdf.sha256, last_modified=pdf.made_at)


@public_bp.route("/lettres/<int:numero>/email.html")
def letter_email(numero: int):
    version = archive.published_version(session(), numero) or abort(404)
    # Frozen when sent, and the same for every reader: no language, no session in it.
    etag, last_modified = page_etag("email", *version), version[1]
    current = not_modified(etag, last_modified, LETTER_MAX_AGE)
    if current is not None:
        return current
    issue = archive.published_issue(session(), numero) or abort(404)
    response = Response(issue.archive_email_html, mimetype="text/html",
                        headers={"Content-Security-Policy": EMAIL_PAGE_CSP})
    return cacheable(response, max_age=LETTER_MAX_AGE, etag=etag, last_modified=last_modified)


@public_bp.route("/lettres/feed.atom")
def letters_feed():
    issues = archive.published_issues(session())
    return cacheable(Response(archive.atom_feed(issues), mimetype="application/atom+xml"),
                     max_age=FEED_MAX_AGE, last_modified=archive.last_published_at(issues))


# --- Back office: issues ------------------------------------------------------------------------

@redaction_bp.route("/")
@editor_required
def dashboard():
    db = session()
    return render_template("redaction/dashboard.html",
                           waiting=contributions.moderation_queue(db),
                           issues=issue_service.list_issues(db))


@redaction_bp.route("/numeros/", methods=["GET", "POST"])
@editor_required
def issues():
    db = session()
    form = IssueForm()
    if request.method == "GET":
        form.numero.data = issue_service.next_numero(db)
        form.issue_date.data = date.today()
    if form.validate_on_submit():
        try:
            issue = issue_service.create_issue(db, current_user, form.numero.data, form.title.data,
                                               form.issue_date.data, form.edito_md.data or "")
        except issue_service.CompositionError as exc:
            form.numero.errors.append(str(exc))
        else:
            flash(_("Numéro %(n)s créé.", n=issue.numero), "success")
            return redirect(url_for(".issue", issue_id=issue.id))
    return render_template("redaction/issues.html", issues=issue_service.list_issues(db), form=form)


def _issue(issue_id: int) -> Issue:
    return session().get(Issue, issue_id) or abort(404)


@redaction_bp.route("/numeros/<int:issue_id>", methods=["GET", "POST"])
@editor_required
def issue(issue_id: int):
    db = session()
    issue = _issue(issue_id)
    if issue.kind is IssueKind.invitation:  # same mail-out, its own page (no composer)
        return redirect(url_for("invitations.invitation", issue_id=issue.id))
    form = IssueForm(obj=issue)
    if form.validate_on_submit():
        try:
            issue_service.update_issue(db, issue, form.title.data, form.issue_date.data, form.edito_md.data or "")
            flash(_("Numéro enregistré."), "success")
            return redirect(url_for(".issue", issue_id=issue.id))
        except issue_service.CompositionError as exc:
            flash(str(exc), "error")
    available = contributions.accepted_not_placed(db, issue_service.placed_contribution_ids(db))
    agenda.with_entries(issue)  # the titles of the network's events placed in it
    progress = mailout.shown_progress(db, issue)
    segment_form = LetterSegmentForm(formdata=None)
    segment_form.fill_choices(db)
    segment_form.fill(issue.segment)
    return render_template(
        "redaction/issue.html", issue=issue, form=form, available=available, progress=progress,
        add_form=AddItemForm(), rubrique_form=RubriqueForm(), action_form=EmptyForm(),
        test_form=TestSendForm(), schedule_form=ScheduleForm(), segment_form=segment_form,
        audience=segments.count(db, issue.segment), segment_description=segments.describe(issue.segment),
        failures=mailout.failed_deliveries(db, issue.id) if progress else [],
        rubrique_defaults=rubriques.defaults(db), rubrique_choices=rubriques.choices(db),
        agenda_offers=agenda.offers(db, issue) if issue.is_editable else [],
        agenda_rubrique=agenda.agenda_rubrique(db))


def _compose(issue_id: int, action):
    """Run a composition change from a POSTed button, then come back to the composer."""
    issue = _issue(issue_id)
    form = EmptyForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        message = action(issue)
        if message:
            flash(message, "success")
    except (issue_service.CompositionError, mailout.MailoutError) as exc:
        flash(str(exc), "error")
    anchor = request.form.get("anchor", "")
    fragment = f"#{anchor}" if anchor.isidentifier() or anchor.startswith("item-") else ""
    return redirect(url_for(".issue", issue_id=issue.id) + fragment)


@redaction_bp.route("/numeros/<int:issue_id>/articles", methods=["POST"])
@editor_required
def add_item(issue_id: int):
    form = AddItemForm()
    def action(issue):
        if not form.validate():
            raise issue_service.CompositionError(_("Choisissez une contribution et une rubrique."))
        contribution = session().get(Contribution, form.contribution_id.data) or abort(404)
        issue_service.add_item(session(), issue, contribution, form.rubrique.data)
        return _("« %(title)s » ajouté au numéro.", title=contribution.title)
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/agenda", methods=["POST"])
@editor_required
def add_to_agenda(issue_id: int):
    """A network event or an accepted partner event, placed in the Agenda in date order."""
    key = request.form.get("offer", "")
    def action(issue):
        item = agenda.add_offer(session(), current_user, issue, key)
        agenda.with_entries(issue)
        return _("« %(title)s » ajouté à l'Agenda.", title=item.title)
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/rubriques/<slug>/trier", methods=["POST"])
@editor_required
def sort_rubrique(issue_id: int, slug: str):
    def action(issue):
        agenda.sort_by_date(session(), current_user, issue, slug)
        return _("Rubrique triée par date.")
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/articles/<int:item_id>/monter", methods=["POST"])
@editor_required
def move_up(issue_id: int, item_id: int):
    return _compose(issue_id, lambda issue: issue_service.move_item(session(), issue, item_id, -1) and None)


@redaction_bp.route("/numeros/<int:issue_id>/articles/<int:item_id>/descendre", methods=["POST"])
@editor_required
def move_down(issue_id: int, item_id: int):
    return _compose(issue_id, lambda issue: issue_service.move_item(session(), issue, item_id, +1) and None)


@redaction_bp.route("/numeros/<int:issue_id>/articles/<int:item_id>/retirer", methods=["POST"])
@editor_required
def remove_item(issue_id: int, item_id: int):
    def action(issue):
        issue_service.remove_item(session(), issue, item_id)
        return _("Article retiré du numéro.")
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/articles/<int:item_id>/rubrique", methods=["POST"])
@editor_required
def set_rubrique(issue_id: int, item_id: int):
    rubrique = request.form.get("rubrique", "")
    def action(issue):
        issue_service.set_rubrique(session(), issue, item_id, rubrique)
        return _("Rubrique changée.")
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/apercu/email")
@editor_required
def preview_email(issue_id: int):
    issue = _issue(issue_id)
    # What was (or is being) sent, exactly; else the letter as it would be now.
    html = issue.archive_email_html if issue.compiled_html else engine.neutral_letter(mailout.render_letter(issue)).html
    return Response(html, mimetype="text/html", headers={"Content-Security-Policy": EMAIL_PAGE_CSP})


@redaction_bp.route("/numeros/<int:issue_id>/apercu/texte")
@editor_required
def preview_text(issue_id: int):
    issue = _issue(issue_id)
    return Response(engine.neutral_letter(mailout.render_letter(issue)).text, mimetype="text/plain")


@redaction_bp.route("/numeros/<int:issue_id>/apercu/web")
@editor_required
def preview_web(issue_id: int):
    issue = _issue(issue_id)
    if issue.kind is IssueKind.invitation:  # no web version: it is never archived
        return redirect(url_for(".preview_email", issue_id=issue.id))
    return render_template("public/letter.html", issue=issue, preview_html=mailout.render_web_version(issue))


journal.register_actions({
    "letter.test_sent": _l("Lettre : envoi de test"), "letter.sent": _l("Lettre : envoi lancé"),
    "letter.scheduled": _l("Lettre : envoi programmé"), "letter.unscheduled": _l("Lettre : envoi déprogrammé"),
    "letter.paused": _l("Lettre : envoi en pause"), "letter.resumed": _l("Lettre : envoi repris"),
    "letter.cancelled": _l("Lettre : envoi annulé"),
})


def _issue_name(issue: Issue) -> str:
    return f"la lettre n°{issue.numero}" if issue.numero is not None else f"« {issue.title} »"


def _journal(issue: Issue, action: str, summary: str) -> None:
    journal.record(session(), current_user._get_current_object(), action, summary, target=f"issue:{issue.id}")


@redaction_bp.route("/numeros/<int:issue_id>/test", methods=["POST"])
@editor_required
def send_test(issue_id: int):
    issue = _issue(issue_id)
    form = TestSendForm()
    if form.validate_on_submit():
        mailout.send_test(session(), issue, form.address.data)
        _journal(issue, "letter.test_sent", f"Envoi de test de {_issue_name(issue)} à {form.address.data}")
        flash(_("Envoi de test parti vers %(address)s.", address=form.address.data), "success")
    else:
        for error in form.address.errors:
            flash(error, "error")
    return redirect(url_for(".issue", issue_id=issue.id) + "#envoi")


@redaction_bp.route("/numeros/<int:issue_id>/destinataires", methods=["POST"])
@editor_required
def set_segment(issue_id: int):
    """Everyone, or a segment (e.g. a CLAS edition): saved on the issue, counted in the send box."""
    db = session()
    issue = _issue(issue_id)
    form = LetterSegmentForm()
    form.fill_choices(db)
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for(".issue", issue_id=issue.id) + "#destinataires")
    segment = None if request.form.get("action") == "everyone" else form.segment()
    try:
        issue_service.set_segment(db, issue, segment)
    except issue_service.CompositionError as exc:
        flash(str(exc), "error")
    else:
        flash(_("Destinataires enregistrés : %(who)s, soit %(n)s abonné·e·s.",
                who=segments.describe(issue.segment), n=segments.count(db, issue.segment)), "success")
    return redirect(url_for(".issue", issue_id=issue.id) + "#destinataires")


@redaction_bp.route("/numeros/<int:issue_id>/envoyer", methods=["POST"])
@editor_required
def send_now(issue_id: int):
    def action(issue):
        if request.form.get("confirm") != "1":
            raise mailout.MailoutError(_("Cochez la case de confirmation avant d'envoyer ce numéro."))
        count = segments.count(session(), issue.segment)
        if request.form.get("expected") != str(count):
            raise mailout.MailoutError(_("La sélection a changé : vérifiez le nombre de destinataires, "
                                         "puis confirmez de nouveau."))
        if count == 0 and issue.segment:
            raise mailout.MailoutError(_("Personne ne recevrait ce numéro : élargissez la sélection des "
                                         "destinataires."))
        mailout.request_send(session(), issue)
        _journal(issue, "letter.sent", f"Envoi de {_issue_name(issue)} lancé vers {count} abonné·e·s")
        return _("Envoi lancé vers %(n)s abonné·e·s.", n=count)
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/programmer", methods=["POST"])
@editor_required
def schedule(issue_id: int):
    issue = _issue(issue_id)
    form = ScheduleForm()
    if not form.validate_on_submit():
        flash(_("Indiquez une date et une heure d'envoi valides."), "error")
    elif form.when_utc() <= utcnow():
        flash(_("La date d'envoi doit être dans le futur (ou utilisez « Envoyer maintenant »)."), "error")
    elif issue.segment and segments.count(session(), issue.segment) == 0:
        flash(_("Personne ne recevrait ce numéro : élargissez la sélection des destinataires."), "error")
    else:
        try:
            mailout.request_send(session(), issue, form.when_utc())
            _journal(issue, "letter.scheduled", f"Envoi de {_issue_name(issue)} programmé "
                                                f"le {date_time(form.when_utc())}")
            flash(_("Envoi programmé."), "success")
        except mailout.MailoutError as exc:
            flash(str(exc), "error")
    return redirect(url_for(".issue", issue_id=issue.id) + "#envoi")


@redaction_bp.route("/numeros/<int:issue_id>/deprogrammer", methods=["POST"])
@editor_required
def unschedule(issue_id: int):
    def action(issue):
        mailout.unschedule(session(), issue)
        _journal(issue, "letter.unscheduled", f"Envoi de {_issue_name(issue)} déprogrammé")
        return _("Envoi déprogrammé : le numéro est de nouveau un brouillon.")
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/pause", methods=["POST"])
@editor_required
def pause(issue_id: int):
    def action(issue):
        mailout.pause(session(), issue)
        _journal(issue, "letter.paused", f"Envoi de {_issue_name(issue)} mis en pause")
        return _("Envoi mis en pause.")
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/reprendre", methods=["POST"])
@editor_required
def resume(issue_id: int):
    def action(issue):
        mailout.resume(session(), issue)
        _journal(issue, "letter.resumed", f"Envoi de {_issue_name(issue)} repris")
        return _("Envoi repris.")
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/annuler", methods=["POST"])
@editor_required
def cancel(issue_id: int):
    def action(issue):
        if request.form.get("confirm") != "1":
            raise mailout.MailoutError(_("Cochez la case de confirmation pour annuler l'envoi."))
        count = mailout.cancel(session(), issue)
        _journal(issue, "letter.cancelled", f"Envoi de {_issue_name(issue)} annulé ({count} destinataires en moins)")
        return _("Envoi annulé : %(n)s destinataires ne recevront pas ce numéro.", n=count)
    return _compose(issue_id, action)


@redaction_bp.route("/numeros/<int:issue_id>/progression.json")
@editor_required
def progress(issue_id: int):
    issue = _issue(issue_id)
    p = mailout.progress(session(), issue.id)
    return jsonify(status="starting" if issue.is_starting else issue.status.value,
                   total=p.total, sent=p.sent, failed=p.failed, remaining=p.remaining, rate=round(p.rate or 0, 1),
                   eta=format_duration(p.eta_seconds) if p.eta_seconds is not None else "")
