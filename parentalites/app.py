"""The Flask application factory."""
from __future__ import annotations

import logging
import time
from pathlib import Path

from flask import Flask, g, render_template, request
from flask_babel import Babel, get_locale
from flask_wtf.csrf import CSRFError
from werkzeug.routing import IntegerConverter

from accounts.auth import auth_bp, login_manager
from accounts.email_texts_views import email_texts_bp
from accounts.journal_views import journal_bp
from accounts.views import accounts_bp
from contributions.directory_views import directory_bp
from contributions.editing_views import editing_bp
from contributions.feed_views import feeds_bp
from contributions.fiche_import_views import fiche_import_bp
from contributions.models import STATUS_LABELS, ContributionStatus
from contributions.rubrique_views import rubriques_bp
from contributions.structure_views import structures_bp
from contributions.views import files_bp, moderation_bp, partner_bp
from core import db as database
from core import site_settings
from core.extensions import csrf, limiter
from core.formatting import install_filters
from core.proxies import TrustedProxies
from core.settings import SettingsError
from core.text import render_markdown, safe_url
from core.web import HSTS, INT_MAX, content_security_policy, csp_nonce
from events.invitations_views import invitations_bp
from events.views import events_bp
from newsletter.calendar_views import calendar_bp
from newsletter.letter_blocks_views import letter_blocks_bp
from newsletter.site_settings_views import site_settings_bp
from newsletter.views import public_bp, redaction_bp
from parentalites.api import install_api, is_api_request, json_error
from parentalites.bootstrap import bootstrap, exit_on_bad_settings
from parentalites.ops import install_request_metrics, ops_bp
from parentalites.statistics.views import statistics_bp
from parentalites.webhooks.views import webhooks_bp
from parentalites.widgets import widgets_bp
from subscribers.admin_views import subscribers_admin_bp
from subscribers.bounce_views import bounces_bp
from subscribers.import_views import import_bp
from subscribers.privacy_views import privacy_bp
from subscribers.views import subscribers_bp

ROOT = Path(__file__).resolve().parent.parent
access_logger = logging.getLogger("parentalites.access")
LOCALES = ["fr", "en"]

def select_locale() -> str:
    chosen = request.args.get("lang") or request.cookies.get("lang")
    if chosen in LOCALES:
        return chosen
    return request.accept_languages.best_match(LOCALES) or "fr"


def csrf_field(form) -> str:
    """A form's CSRF token without its id attribute: a page often holds several forms, and ids
    must be unique. Empty when CSRF is off (tests)."""
    field = getattr(form, "csrf_token", None)
    return field(id=False) if field is not None else ""


class BoundedInteger(IntegerConverter):
    def __init__(self, map, *args, **kwargs):  # noqa: A002  (werkzeug's name)
        kwargs.setdefault("max", INT_MAX)
        super().__init__(map, *args, **kwargs)


def create_app(config: dict | None = None) -> Flask:
    """The web application. A bad setting stops the process (gunicorn too) with its message."""
    try:
        settings = bootstrap()
    except SettingsError as error:
        exit_on_bad_settings(error)
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    # <int:…> in a route: no row has an id beyond PostgreSQL's integer, so such a URL is a 404.
    app.url_map.converters["int"] = BoundedInteger
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        REMEMBER_COOKIE_SECURE=settings.base_url.startswith("https://"),
        BABEL_DEFAULT_LOCALE="fr",
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "translations"),
        MAX_CONTENT_LENGTH=16 * 1024 * 1024,
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_uri,
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.config.update(config or {})
    # Flask's documented way to add a WSGI middleware; mypy forbids assigning to a method.
    # Proxy headers only from the proxies named in TRUSTED_PROXIES (none by default).
    app.wsgi_app = TrustedProxies(app.wsgi_app, settings.trusted_proxies)  # type: ignore[method-assign]

    database.init_db()
    csrf.init_app(app)
    limiter.init_app(app)
    Babel(app, locale_selector=select_locale)

    login_manager.init_app(app)
    for blueprint in (feeds_bp, public_bp, auth_bp, subscribers_bp, partner_bp, moderation_bp, redaction_bp,
                      bounces_bp, events_bp, files_bp, structures_bp, invitations_bp, calendar_bp, directory_bp,
                      privacy_bp, import_bp, widgets_bp, accounts_bp, email_texts_bp, journal_bp, fiche_import_bp,
                      statistics_bp):
        app.register_blueprint(blueprint)
    install_api(app)  # /api/: its own JSON errors, CORS and ETags
    app.register_blueprint(subscribers_admin_bp)  # the editors' subscriber list and pages
    app.register_blueprint(webhooks_bp)  # the admins' outgoing webhooks
    app.register_blueprint(ops_bp)  # /healthz and /metrics
    install_request_metrics(app)
    app.register_blueprint(site_settings_bp)      # /redaction/parametres (admins) and the logo
    app.register_blueprint(letter_blocks_bp)      # the composer's blocks and the banners' images
    app.register_blueprint(editing_bp)  # the editors' edits and the network's own articles
    app.register_blueprint(rubriques_bp)  # the letter's rubriques, for admins

    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["safe_url"] = safe_url
    install_filters(app.jinja_env)
    app.jinja_env.globals.update(
        settings=settings, get_locale=get_locale, csrf_field=csrf_field, csp_nonce=csp_nonce,
        status_labels_for=lambda value: STATUS_LABELS[ContributionStatus(value)])

    @app.context_processor
    def site_settings_in_pages():
        # The effective site settings (back office over environment), read once per request.
        return {"site": site_settings.current()}

    @app.after_request
    def security_headers(response):
        # A view may set its own policy (an e-mail shown as a page: EMAIL_PAGE_CSP).
        response.headers.setdefault("Content-Security-Policy", content_security_policy(csp_nonce()))
        if settings.base_url.startswith("https://"):
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if not g.get("frameable"):  # the widgets (core.web.allow_framing) go in other sites' pages
            response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        if request.args.get("lang") in LOCALES:
            response.set_cookie("lang", request.args["lang"], max_age=365 * 24 * 3600, samesite="Lax")
        return response

    @app.before_request
    def start_clock():
        g.request_started = time.monotonic()

    @app.after_request
    def access_log(response):
        # The route's pattern (/connexion/lien/<token>), never the URL: tokens stay out of the logs
        # (gunicorn's and werkzeug's own access logs are off, see core/logging.py and the Dockerfile).
        rule = request.url_rule.rule if request.url_rule is not None else "(aucune route)"
        elapsed = (time.monotonic() - g.get("request_started", time.monotonic())) * 1000
        access_logger.info("%s %s %s %.1f ms", request.method, rule, response.status_code, elapsed)
        return response

    @app.after_request
    def end_unit_of_work(response):
        # The request's one transaction. A success (status < 400: a page, a redirect, a 202)
        # commits; an error page, or a form shown again with its errors (422), rolls back, so
        # that nothing half-made is kept. A failing COMMIT raises here and becomes a 500.
        if database.session.registry.has():
            if response.status_code < 400:
                database.session.commit()  # the request's one COMMIT: its jobs leave now
            else:
                database.session.rollback()
        return response

    @app.teardown_appcontext
    def remove_session(_exc):
        database.session.remove()  # an exception skipped the commit: this rolls back

    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        return render_template("errors/error.html", code=400, error=exc), 400

    def error_page(exc, code: int):
        if is_api_request():  # an /api/ URL no route matched (an id beyond an integer): JSON too
            return json_error(exc)
        return render_template("errors/error.html", code=code, error=exc), code

    for code in (403, 404, 429):
        app.register_error_handler(code, lambda exc, code=code: error_page(exc, code))
    return app
