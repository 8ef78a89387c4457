"""Bounces on the web: the webhook that receives them from a sending service, and the editors'
list of suppressed addresses with the reason."""
from __future__ import annotations

import hmac

from flask import Blueprint, abort, jsonify, render_template, request

from accounts.auth import editor_required
from core.db import session
from core.extensions import csrf
from core.settings import get_settings
from subscribers import bounces

bounces_bp = Blueprint("bounces", __name__)

MAX_EVENTS = 1000


def _error(status: int, message: str):
    response = jsonify(error=message)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="bounces"'
    return response


@bounces_bp.route("/webhooks/bounces", methods=["POST"])
@csrf.exempt  # a machine posts here, with a bearer token instead of a session and a CSRF token
def webhook():
    """Generic JSON webhook: one event or a list of events, see bounces.ingest_json."""
    expected = get_settings().bounce_webhook_token
    if not expected:
        abort(404)  # not configured: the endpoint does not exist
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return _error(401, "invalid or missing bearer token")
    payload = request.get_json(force=True, silent=True)
    if payload is None:
        return _error(400, "the body is not valid JSON (expected an object or a list of objects)")
    events = payload if isinstance(payload, list) else [payload]
    if not events or len(events) > MAX_EVENTS:
        return _error(400, f"expected between 1 and {MAX_EVENTS} events")
    reports = []
    for index, event in enumerate(events):  # all read before any is recorded: a 400 records nothing
        try:
            reports.append(bounces.report_from_json(event))
        except bounces.PayloadError as exc:
            return _error(400, f"event {index}: {exc}" if isinstance(payload, list) else str(exc))
    db = session()
    recorded = sum(1 for report in reports if bounces.record_bounce(db, report, None, "webhook") is not None)
    return jsonify(recorded=recorded), 202


@bounces_bp.route("/redaction/abonnes/supprimes")
@editor_required
def suppressed():
    db = session()
    return render_template("redaction/suppressed.html", people=bounces.suppressed_subscribers(db),
                           problems=bounces.mailbox_problems(db), quarantined=bounces.quarantined_messages(db),
                           ignored=bounces.ignored_bounces(db))
