"""What the operator's tools read: `/healthz` (is every server the platform needs reachable?) and
`/metrics` (Prometheus text format).

Counts kept by the database (the mail-out's backlog and progress per issue, the outbox, bounces,
failing feeds, webhooks) are read by a collector at scrape time, so every gunicorn worker gives
the same answer. Request counts live in each process: with PROMETHEUS_MULTIPROC_DIR set (the
Dockerfile does), prometheus_client keeps them in files there and `/metrics` adds up every
worker's; without it (the embedded server, one process) they are the process's own."""
from __future__ import annotations

import hmac
import logging
import os
import smtplib
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import timedelta
from pathlib import Path

from flask import Blueprint, Flask, Response, g, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from sqlalchemy import func, or_, select, text

from contributions.models import Structure
from core import db as database
from core.db import utcnow
from core.settings import get_settings
from mailing.models import Delivery, DeliveryStatus, OutboundEmail, OutboundStatus
from mailing.smtp import parse_smtp_url
from mailing.throttle import parse_relays
from newsletter.models import Issue, IssueStatus
from parentalites.celery_app import QUEUE_FAMILIES, queue_names
from parentalites.webhooks.models import DeliveryStatus as WebhookStatus
from parentalites.webhooks.models import WebhookDelivery, WebhookEndpoint
from subscribers.models import Bounce

log = logging.getLogger(__name__)
ops_bp = Blueprint("ops", __name__)

CHECK_TIMEOUT = 3.0  # seconds each reachability check may take
RECENT_ISSUES = timedelta(days=7)  # an issue's mail-out counters stay this long after it is sent

_requests_registry = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("parentalites_http_requests", "HTTP requests answered, by route pattern and status",
                   ["method", "route", "status"], registry=_requests_registry)
LATENCY = Histogram("parentalites_http_request_duration_seconds", "Time to answer a request, by route pattern",
                    ["route"], registry=_requests_registry,
                    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


# --- /healthz ----------------------------------------------------------------------------------------

def _check_database() -> None:
    with database.get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))


def _check_broker() -> None:
    from kombu import Connection
    with Connection(get_settings().celery_broker_url, connect_timeout=CHECK_TIMEOUT) as connection:
        connection.ensure_connection(max_retries=1, timeout=round(CHECK_TIMEOUT))


def _check_smtp() -> None:
    """The first relay that answers with its greeting (no login, no message): the relay is up."""
    settings = get_settings()
    errors = []
    for relay in parse_relays(settings.smtp_relays, settings.smtp_url):
        address = parse_smtp_url(relay.url)
        try:
            client: smtplib.SMTP
            if address.scheme == "smtps":
                client = smtplib.SMTP_SSL(address.host, address.port, timeout=CHECK_TIMEOUT,
                                          context=ssl.create_default_context())
            else:
                client = smtplib.SMTP(address.host, address.port, timeout=CHECK_TIMEOUT)
            try:
                client.noop()
            finally:
                client.close()
            return
        except (OSError, smtplib.SMTPException) as exc:
            errors.append(exc)
    raise errors[-1] if errors else RuntimeError("aucun relais")


CHECKS = {"database": _check_database, "broker": _check_broker, "smtp": _check_smtp}


def health() -> tuple[bool, dict]:
    """Every check at once, each within CHECK_TIMEOUT. What failed is named with the kind of error
    only: never a URL, a host's password nor a server's own words."""
    pool = ThreadPoolExecutor(max_workers=len(CHECKS), thread_name_prefix="healthz")
    started = time.monotonic()
    futures = {name: pool.submit(check) for name, check in CHECKS.items()}
    results: dict[str, dict] = {}
    for name, future in futures.items():
        remaining = max(CHECK_TIMEOUT + 0.5 - (time.monotonic() - started), 0.0)
        try:
            future.result(timeout=remaining)
        except FutureTimeout:
            results[name] = {"ok": False, "error": f"pas de réponse en {CHECK_TIMEOUT:g} s"}
        except Exception as exc:  # noqa: BLE001  whatever it is, the check failed
            log.warning("healthz: %s unreachable: %s", name, type(exc).__name__)
            results[name] = {"ok": False, "error": f"injoignable ({type(exc).__name__})"}
        else:
            results[name] = {"ok": True}
    pool.shutdown(wait=False, cancel_futures=True)  # a hung check never holds the answer
    return all(result["ok"] for result in results.values()), results


@ops_bp.get("/healthz")
def healthz():
    ok, checks = health()
    response = jsonify({"status": "ok" if ok else "fail", "checks": checks})
    response.status_code = 200 if ok else 503
    response.headers["Cache-Control"] = "no-store"
    return response


# --- /metrics ----------------------------------------------------------------------------------------

class DatabaseCollector:
    """Gauges and counters read from the database at each scrape (the same in every process)."""

    def collect(self):
        db = database.SessionFactory()
        try:
            yield from self._collect(db)
        except Exception:  # noqa: BLE001  the scrape still answers, saying the database is down
            log.exception("metrics: the database could not be read")
            yield GaugeMetricFamily("parentalites_database_up", "1 when the database answered this scrape", value=0)
        finally:
            db.close()

    def _collect(self, db):
        settings = get_settings()
        yield GaugeMetricFamily("parentalites_database_up", "1 when the database answered this scrape", value=1)
        recent = utcnow() - RECENT_ISSUES
        issues = db.execute(select(Issue.id, Issue.numero, Issue.status).where(or_(
            Issue.status.in_([IssueStatus.sending, IssueStatus.paused]),
            (Issue.status == IssueStatus.sent) & (Issue.sent_at >= recent)))).all()
        counts: dict[tuple[int, DeliveryStatus], int] = {}
        if issues:
            counts = {(issue_id, status): count for issue_id, status, count in db.execute(
                select(Delivery.issue_id, Delivery.status, func.count()).where(
                    Delivery.issue_id.in_([issue.id for issue in issues]))
                .group_by(Delivery.issue_id, Delivery.status))}
        backlog = GaugeMetricFamily("parentalites_mailout_backlog", "Deliveries still to send, by issue",
                                    labels=["issue", "numero", "status"])
        sent = CounterMetricFamily("parentalites_mailout_sent", "Deliveries sent, by issue (rate() gives the "
                                   "mail-out's pace)", labels=["issue", "numero"])
        failed = CounterMetricFamily("parentalites_mailout_failed", "Deliveries refused for good, by issue",
                                     labels=["issue", "numero"])
        for issue in issues:
            labels = [str(issue.id), str(issue.numero or "")]
            backlog.add_metric([*labels, issue.status.value],
                               counts.get((issue.id, DeliveryStatus.queued), 0)
                               + counts.get((issue.id, DeliveryStatus.claimed), 0))
            sent.add_metric(labels, counts.get((issue.id, DeliveryStatus.sent), 0))
            failed.add_metric(labels, counts.get((issue.id, DeliveryStatus.failed), 0))
        yield from (backlog, sent, failed)

        outbox = dict(db.execute(select(OutboundEmail.status, func.count()).group_by(OutboundEmail.status)).all())
        yield GaugeMetricFamily("parentalites_outbox_backlog", "Transactional e-mails waiting to be sent",
                                value=outbox.get(OutboundStatus.queued, 0))
        yield CounterMetricFamily("parentalites_outbox_failed", "Transactional e-mails refused for good",
                                  value=outbox.get(OutboundStatus.failed, 0))

        bounces = CounterMetricFamily("parentalites_bounces", "Bounces and complaints received, by kind",
                                      labels=["kind"])
        for kind, count in db.execute(select(Bounce.kind, func.count()).group_by(Bounce.kind)):
            bounces.add_metric([kind.value], count)
        yield bounces

        failing = db.scalar(select(func.count()).select_from(Structure).where(Structure.feed_failures > 0)) or 0
        flagged = db.scalar(select(func.count()).select_from(Structure).where(
            Structure.feed_failures >= settings.feed_failure_threshold)) or 0
        yield GaugeMetricFamily("parentalites_feeds_failing", "Feeds whose last poll failed", value=failing)
        yield GaugeMetricFamily("parentalites_feeds_flagged", "Feeds failing FEED_FAILURE_THRESHOLD times in a "
                                "row or more (the editors were told)", value=flagged)

        pending = db.scalar(select(func.count()).select_from(WebhookDelivery).where(
            WebhookDelivery.status == WebhookStatus.pending)) or 0
        disabled = db.scalar(select(func.count()).select_from(WebhookEndpoint).where(
            WebhookEndpoint.disabled_at.is_not(None), WebhookEndpoint.active.is_(False))) or 0
        yield GaugeMetricFamily("parentalites_webhook_deliveries_pending", "Webhook deliveries not sent yet",
                                value=pending)
        yield GaugeMetricFamily("parentalites_webhook_endpoints_disabled", "Webhooks switched off after "
                                "repeated failures", value=disabled)


class QueueCollector:
    """The length of each Celery queue (Redis only: LLEN; the embedded broker has no cheap count)."""

    def collect(self):
        settings = get_settings()
        if not settings.celery_broker_url.startswith(("redis://", "rediss://")):
            return
        import redis
        gauge = GaugeMetricFamily("parentalites_queue_length", "Messages waiting in each Celery queue",
                                  labels=["queue"])
        try:
            client = redis.Redis.from_url(settings.celery_broker_url, socket_connect_timeout=CHECK_TIMEOUT,
                                          socket_timeout=CHECK_TIMEOUT)
            for name in queue_names(QUEUE_FAMILIES):
                gauge.add_metric([name], client.llen(name))
        except redis.RedisError as exc:
            log.warning("metrics: queue lengths unreadable (%s)", type(exc).__name__)
            return
        yield gauge


def _scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess
        multiprocess.MultiProcessCollector(registry)  # every gunicorn worker's request counts
    else:
        registry.register(REQUESTS)
        registry.register(LATENCY)
    registry.register(DatabaseCollector())
    registry.register(QueueCollector())
    return registry


def _authorised() -> bool:
    token = get_settings().metrics_token
    if not token:
        return True
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())


@ops_bp.get("/metrics")
def metrics():
    if not _authorised():
        return Response("Jeton manquant ou invalide (Authorization: Bearer …).\n", status=401,
                        headers={"WWW-Authenticate": 'Bearer realm="metrics"'}, mimetype="text/plain")
    return Response(generate_latest(_scrape_registry()), mimetype=CONTENT_TYPE_LATEST,
                    headers={"Cache-Control": "no-store"})


def install_request_metrics(app: Flask) -> None:
    """Count every answered request by its route pattern (never the URL: tokens stay out)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)

    @app.after_request
    def count_request(response):
        route = request.url_rule.rule if request.url_rule is not None else "(aucune route)"
        REQUESTS.labels(request.method, route, str(response.status_code)).inc()
        started = g.get("request_started")
        if started is not None:
            LATENCY.labels(route).observe(time.monotonic() - started)
        return response
