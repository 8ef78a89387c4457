"""Public subscription pages: /abonnement (double opt-in), /desabonnement/<token> (one click),
/preferences/<token> (topics, role, commune; linked from every letter's footer) with the RGPD
self-service (/preferences/<token>/donnees: my data as a page or JSON; /preferences/<token>/effacer:
erase me, after one confirmation), and /abonnement/rester/<token> (the re-permission answer)."""
from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from core import jobs, urls
from core.db import session
from core.extensions import csrf, limiter
from core.forms import EmptyForm
from subscribers import privacy, services
from subscribers.forms import PreferencesForm, SubscribeForm
from subscribers.models import SubscriberStatus

subscribers_bp = Blueprint("subscribers", __name__)


def _request() -> services.Request:
    return services.Request(ip=request.remote_addr, user_agent=request.headers.get("User-Agent"))


SUBSCRIBE_TASK = "tasks.subscribers.subscribe"


@subscribers_bp.route("/abonnement", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def subscribe():
    form = SubscribeForm()
    if form.validate_on_submit():
        try:
            address = services.normalize_email(form.email.data)  # depends on the input only
        except services.InvalidEmail as exc:
            form.email.errors.append(str(exc))
        else:
            # The same work whatever the address: one job; the worker looks the address up and writes
            # the subscription and its e-mail, or drops it (tasks.subscribers.subscribe). Neither the
            # answer nor its time tells whether the address is new, pending, subscribed or suppressed.
            origin = _request()
            jobs.enqueue(session(), SUBSCRIBE_TASK, address, form.name.data, form.structure.data or "",
                         form.preferences(), origin.ip, (origin.user_agent or "")[:300] or None)
            return redirect(url_for(".check_inbox"))
    status = 422 if form.errors else 200
    return render_template("subscribers/subscribe.html", form=form), status


@subscribers_bp.route("/abonnement/verifiez-vos-e-mails")
def check_inbox():
    return render_template("subscribers/check_inbox.html")


@subscribers_bp.route("/abonnement/confirmer/<token>")
def confirm(token: str):
    db = session()
    result = services.confirm(db, token, request=_request())
    status = 200 if result in (services.ConfirmResult.confirmed, services.ConfirmResult.already) else 404
    subscriber = services.subscriber_of_confirmation(db, token) if status == 200 else None
    return render_template("subscribers/confirm.html", result=result.value, subscriber=subscriber), status


@subscribers_bp.route("/abonnement/valider/<token>", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def confirm_import(token: str):
    """The link of the confirmation mail sent after an import (the subscriber's personal token).
    GET shows the consent text and a button; only the POST confirms (link scanners follow links)."""
    db = session()
    subscriber = services.by_unsubscribe_token(db, token)
    if subscriber is None:
        return render_template("subscribers/confirm.html", result="invalid", subscriber=None), 404
    form = EmptyForm()
    if form.validate_on_submit():
        result = services.confirm_import(db, subscriber, request=_request())
        status = 200 if result is not services.ConfirmResult.invalid else 410
        return render_template("subscribers/confirm.html", result=result.value,
                               subscriber=subscriber if status == 200 else None), status
    return render_template("subscribers/confirm_import.html", subscriber=subscriber, form=form,
                           wording=services.CONSENT_WORDING)


@subscribers_bp.route("/desabonnement/")
def unsubscribe_help():
    return render_template("subscribers/unsubscribe_help.html")


@subscribers_bp.route("/desabonnement/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058: the mail client POSTs with no cookie and no token; the URL token is the proof
def unsubscribe(token: str):
    db = session()
    subscriber = services.by_unsubscribe_token(db, token)
    if subscriber is None:
        return render_template("subscribers/unsubscribe.html", subscriber=None), 404
    if request.method == "POST":
        if request.form.get("List-Unsubscribe") != "One-Click":
            abort(400)
        services.unsubscribe(db, subscriber, request=_request(),
                             via="web" if request.form.get("from_page") else "one-click",
                             delivery_id=request.args.get(urls.UNSUBSCRIBE_DELIVERY_PARAM, type=int))
        # 200 with no redirect, as RFC 8058 asks; a person sees the confirmation page.
        return render_template("subscribers/unsubscribe.html", subscriber=subscriber, done=True)
    # GET never unsubscribes (link scanners follow links): it shows the button.
    return render_template("subscribers/unsubscribe.html", subscriber=subscriber, done=False)


@subscribers_bp.route("/preferences/")
def preferences_help():
    return render_template("subscribers/preferences_help.html")


@subscribers_bp.route("/preferences/<token>", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def preferences(token: str):
    """The subscriber's own page, reached by the secret link of their letters (the same random,
    revocable token as the unsubscribe link)."""
    db = session()
    subscriber = services.by_unsubscribe_token(db, token)
    if subscriber is None:
        return render_template("subscribers/preferences.html", subscriber=None, form=None), 404
    if subscriber.status not in (SubscriberStatus.active, SubscriberStatus.pending):
        return render_template("subscribers/preferences.html", subscriber=subscriber, form=None)
    form = PreferencesForm(data={"topics": subscriber.topics or [], "role": subscriber.role or "",
                                 "commune": subscriber.commune or "", "departement": subscriber.departement or ""})
    if form.validate_on_submit():
        services.save_preferences(db, subscriber, **form.preferences())
        flash(_("Vos préférences sont enregistrées."), "success")
        return redirect(url_for(".preferences", token=token))
    status = 422 if form.errors else 200
    return render_template("subscribers/preferences.html", subscriber=subscriber, form=form), status


def _subscriber_or_404(token: str, template: str, **context):
    """The subscriber of a secret link, or the page saying the link is not valid (404)."""
    subscriber = services.by_unsubscribe_token(session(), token)
    if subscriber is None:
        return None, (render_template(template, subscriber=None, **context), 404)
    return subscriber, None


@subscribers_bp.route("/preferences/<token>/donnees")
@limiter.limit("30/hour")
def my_data(token: str):
    """Access and portability (RGPD art. 15 and 20): everything we hold, as a page or as JSON."""
    subscriber, invalid = _subscriber_or_404(token, "subscribers/my_data.html", data=None)
    if invalid:
        return invalid
    data = privacy.export_for_request(session(), subscriber, channel="web")
    if request.args.get("format") == "json":
        return Response(json.dumps(data, ensure_ascii=False, indent=2), mimetype="application/json",
                        headers={"Content-Disposition": 'attachment; filename="mes-donnees-parentalites.json"',
                                 "Cache-Control": "no-store"})
    response = Response(render_template("subscribers/my_data.html", subscriber=subscriber, data=data, token=token))
    response.headers["Cache-Control"] = "no-store"
    return response


@subscribers_bp.route("/preferences/<token>/effacer", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def erase_me(token: str):
    """Erasure (RGPD art. 17): GET says what will happen, the POST button (CSRF) does it. The link
    dies with the data: replayed, it finds nobody (404)."""
    subscriber, invalid = _subscriber_or_404(token, "subscribers/erase.html", done=False)
    if invalid:
        return invalid
    form = FlaskForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        address = subscriber.email
        privacy.erase(session(), subscriber, channel="web")
        return render_template("subscribers/erase.html", subscriber=None, done=True, address=address)
    return render_template("subscribers/erase.html", subscriber=subscriber, done=False, form=form, token=token)


@subscribers_bp.route("/abonnement/rester/<token>", methods=["GET", "POST"])
@limiter.limit("30/hour", methods=["POST"])
def reconsent(token: str):
    """The « Je reste abonné·e » link of the re-permission e-mail: GET shows the button (link
    scanners follow links), the POST records the consent and starts the retention clock again."""
    subscriber, invalid = _subscriber_or_404(token, "subscribers/reconsent.html", done=False)
    if invalid:
        return invalid
    form = FlaskForm()
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        done = services.reconsent(session(), subscriber, request=_request())
        return render_template("subscribers/reconsent.html", subscriber=subscriber, done=done, form=form,
                               consent_text=services.CONSENT_WORDING)
    return render_template("subscribers/reconsent.html", subscriber=subscriber, done=False, form=form,
                           consent_text=services.CONSENT_WORDING)
