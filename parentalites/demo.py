"""`parentalites demo`: a full cycle on the embedded setup, from a partner's submission to a sent,
archived letter, then the site. The same services, worker and SMTP path as production."""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from sqlalchemy import func, select

from accounts.models import User
from contributions import services as contributions
from contributions.importer import import_actions
from contributions.models import ContributionKind, ContributionStatus
from core.db import get_engine, session
from core.settings import get_settings, reset_settings
from events import invitations
from events.models import Event, EventType
from mailing.models import OutboundEmail, OutboundStatus
from newsletter import agenda, issues, mailout
from newsletter.models import Issue, IssueStatus
from parentalites.bootstrap import bootstrap

console = Console()
DEMO_MARKER = ".demo"
# The demo's own fiches action, in the format of the national database's text export.
DEMO_ACTIONS = Path(__file__).with_name("demo_actions.txt")


class DemoError(RuntimeError):
    pass


def check_data_dir(data_dir: Path) -> set[str]:
    """What the demo would wipe in `data_dir`; DemoError when it did not create that directory.
    Called before anything is written there (the CLI checks it before the settings create the
    secret key file)."""
    # The secret key file is written as soon as the settings load; it is kept, not data.
    contents = {p.name for p in data_dir.iterdir()} - {"secret_key"} if data_dir.exists() else set()
    if contents and DEMO_MARKER not in contents:
        raise DemoError(f"{data_dir} contient déjà des données qui ne viennent pas de la démo. "
                        "Choisissez un autre dossier avec PARENTALITES_DATA_DIR=…")
    return contents


def prepare_data_dir(data_dir: Path) -> None:
    """Start from a clean data directory, but never wipe one the demo did not create."""
    contents = check_data_dir(data_dir)
    for name in contents:
        path = data_dir / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / DEMO_MARKER).write_text("Dossier créé par `parentalites demo` : il est effacé à chaque démo.\n")


class Stopped(SystemExit):
    """SIGTERM or SIGHUP: leave through the `finally` that stops the worker and beat."""


def _stop_on_signal(signum, frame) -> None:
    raise Stopped(128 + signum)


@contextlib.contextmanager
def _signals_stop_the_demo():
    """SIGTERM and SIGHUP end the demo like Ctrl+C does: through every `finally` (Python's default
    for them is to die at once, leaving the worker and beat, in their own sessions, running)."""
    previous = {sig: signal.signal(sig, _stop_on_signal) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def run(serve: bool = True, port: int = 8000) -> int:
    with _signals_stop_the_demo():
        return _run(serve, port)


def _run(serve: bool, port: int) -> int:
    from parentalites.catcher import free_port, port_is_free, start_catcher

    reset_settings()
    data_dir = get_settings().data_dir
    prepare_data_dir(data_dir)
    # The catcher: unless SMTP_URL points elsewhere, the worker sends to our local one.
    catcher = None
    if "SMTP_URL" not in get_settings().from_environment:
        catcher_port = get_settings().catcher_port
        if not port_is_free("127.0.0.1", catcher_port):
            catcher_port = free_port()
        os.environ["SMTP_URL"] = f"smtp://127.0.0.1:{catcher_port}"
        os.environ["CATCHER_PORT"] = str(catcher_port)
    if "BASE_URL" not in get_settings().from_environment:
        os.environ["BASE_URL"] = f"http://127.0.0.1:{port}"
    reset_settings()  # the worker and beat started below read the same environment
    settings = get_settings()
    if "CATCHER_PORT" in settings.from_environment:
        catcher = start_catcher(settings.maildir, settings.catcher_port)

    from parentalites import migrate
    with console.status("Création de la base de données (migrations Alembic)…"):
        migrate.upgrade()

    from parentalites.demo_data import seed
    from parentalites.processes import start_process, stop_process

    bootstrap()  # after the settings are final: the demo enqueues jobs like the web app does
    get_engine()
    logins = seed(session())
    session().commit()  # the demo's own boundary: the worker and beat starting next must see the data
    console.print(f"[bold]Données de démonstration chargées[/] dans {settings.data_dir}")

    logs = settings.data_dir / "logs"
    started = []
    try:
        # Sending has a worker of its own: a bounce mailbox or a feed that does not answer holds up
        # only the other one (polling and housekeeping).
        started.append(worker := start_process(["worker", "--concurrency", "2", "--queues", "send"], {},
                                               logs / "worker.log"))
        started.append(poller := start_process(["worker", "--concurrency", "1", "--queues", "poll,housekeeping"], {},
                                               logs / "worker-poll.log"))
        started.append(beat := start_process(["beat"], {}, logs / "beat.log"))
        console.print(f"Workers Celery (envoi : pid {worker.pid} ; relevés et entretien : pid {poller.pid}) et beat "
                      f"(pid {beat.pid}) démarrés ; courrier capturé par {settings.smtp_url} dans {settings.maildir}")
        summary = cycle(session())
        show_summary(summary, settings)
        if not serve:
            return 0
        from parentalites.app import create_app
        app = create_app()
        show_logins(logins, port)
        console.print(f"\n[bold green]Le site tourne sur http://127.0.0.1:{port}[/] (Ctrl+C pour arrêter)")
        app.run(host="127.0.0.1", port=port, threaded=True, use_reloader=False)
        return 0
    finally:
        # Every exit path (end, error, Ctrl+C, SIGTERM, SIGHUP): a second signal does not cut this short.
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        console.print("Arrêt des workers et de beat…")
        for process in reversed(started):
            try:
                stop_process(process)
            except Exception:  # noqa: BLE001  the others are still stopped
                console.print_exception()
        if catcher is not None:
            catcher.stop()
        signal.signal(signal.SIGINT, signal.default_int_handler)


def cycle(db) -> dict:
    """A partner submits, the editor accepts and composes issue n°1, the worker sends it to every
    confirmed subscriber, the archive publishes it."""
    from parentalites.demo_data import EDITOR, PARTNER_CS

    amina = db.scalar(select(User).where(User.email == PARTNER_CS[0]))
    editor = db.scalar(select(User).where(User.email == EDITOR[0]))

    step = 1
    def say(text):
        nonlocal step
        console.print(f"[bold magenta]{step}.[/] {text}")
        step += 1

    submitted = contributions.create(db, amina, contributions.ContributionData(
        kind=ContributionKind.actualite,
        title="Café des parents : on parle de la rentrée au collège",
        body_md=("Chaque jeudi matin, le centre social ouvre son **café des parents**. Ce trimestre, "
                 "on parle du passage en sixième avec la conseillère principale d'éducation du collège.\n\n"
                 "Entrée libre, enfants bienvenus."),
        link="https://cs-tilleuls.example.org/cafe-des-parents"))
    say(f"{amina.name} ({amina.structure.name}) propose « {submitted.title} »")

    contributions.decide(db, editor, submitted, ContributionStatus.accepted, "Merci, parfait pour le prochain numéro.")
    say(f"{editor.name} l'accepte ; un e-mail prévient la partenaire (tâche Celery)")

    issue = issues.create_issue(db, editor, 1, "Rentrée : les parents au cœur du réseau", date.today(),
                                "Bienvenue dans la nouvelle lettre Parentalités, qui réunit désormais la lettre "
                                "du Réaap et le journal des Soirées du Réaap. Elle parle de **soutien à la "
                                "parentalité** comme d'**accompagnement à la scolarité** : bonne lecture !")
    for contribution in contributions.accepted_not_placed(db, set()):
        rubrique = "agenda" if contribution.kind is ContributionKind.evenement else (
            "parentalite" if "parole" in contribution.title else "actualites")
        issues.add_item(db, issue, contribution, rubrique)
    for offer in agenda.offers(db, issue):  # the network's own soirée and journée, in date order
        if offer.network:
            agenda.add_offer(db, editor, issue, offer.key)
    say(f"{editor.name} compose le n°{issue.numero} : {len(issue.items)} articles en rubriques, "
        "dont les événements du réseau dans l'Agenda")

    mailout.send_test(db, issue, editor.email)
    say(f"Envoi de test à {editor.email}")

    mailout.request_send(db, issue)
    db.commit()  # the demo's own boundary: the test send and the start leave for the worker now
    say("Envoi lancé : le worker compile le MJML une fois, planifie une livraison par abonné confirmé, envoie par lots")

    wait_for_mailout(db, issue.id)
    wait_for_outbox(db)
    db.expire_all()
    issue = db.get(Issue, issue.id)
    if issue.status is not IssueStatus.sent:
        raise DemoError("l'envoi ne s'est pas terminé")
    say(f"Le n°{issue.numero} est envoyé et publié dans l'archive : /lettres/{issue.numero}/")
    p = mailout.progress(db, issue.id)

    # The network side: fiches action imported from the national database's export, and an
    # invitation to the next soirée sent to one segment through the same mail-out engine.
    report = import_actions(db, DEMO_ACTIONS, editor)
    say(f"{editor.name} importe l'export de la base des actions : {report.summary_fr} ; "
        "les fiches sont dans l'annuaire /actions/")

    soiree = db.scalar(select(Event).where(Event.type == EventType.soiree_reaap).order_by(Event.starts_at))
    invitation = invitations.send(db, editor, soiree, {"roles": ["referent_clas"]})
    db.commit()  # the demo's own boundary: the fiches are kept and the invitation leaves for the worker
    wait_for_mailout(db, invitation.id)
    invited = mailout.progress(db, invitation.id)
    say(f"Invitation à « {soiree.title} » envoyée aux référents CLAS : {invited.sent} abonné·e·s")

    wait_for_outbox(db)
    outbox = dict(db.execute(select(OutboundEmail.status, func.count()).group_by(OutboundEmail.status)).all())
    return {"issue": issue, "progress": p, "outbox_sent": outbox.get(OutboundStatus.sent, 0),
            "import": report, "invited": invited}


def wait_for_mailout(db, issue_id: int, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    with Progress(TextColumn("Envoi"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("envoi", total=None)
        while time.monotonic() < deadline:
            db.expire_all()
            p = mailout.progress(db, issue_id)
            bar.update(task, total=p.total or None, completed=p.done)
            if db.get(Issue, issue_id).status is IssueStatus.sent:
                return
            time.sleep(0.5)
    raise DemoError(f"l'envoi n'est pas terminé après {timeout:.0f} s (voir var/logs/worker.log)")


def wait_for_outbox(db, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.expire_all()
        if not db.scalar(select(func.count()).where(OutboundEmail.status == OutboundStatus.queued)):
            return
        time.sleep(0.3)
    raise DemoError("des e-mails restent dans la file d'envoi (voir var/logs/worker.log)")


def show_summary(summary: dict, settings) -> None:
    from parentalites.catcher import read_maildir
    p = summary["progress"]
    messages = read_maildir(settings.maildir)
    letters = [m for m in messages if (m["Subject"] or "").startswith("Lettre Parentalités n°")]
    table = Table(title=f"Lettre n°{summary['issue'].numero} : bilan", show_header=False)
    table.add_row("Livraisons enregistrées", f"{p.total} ({p.sent} envoyées, {p.failed} en échec)")
    table.add_row("Lettres reçues par le capteur SMTP", str(len(letters)))
    table.add_row("Autres e-mails (notification, test)", str(summary["outbox_sent"]))
    table.add_row("Boîte du capteur", str(settings.maildir))
    table.add_row("Archive", f"{settings.base_url}/lettres/{summary['issue'].numero}/")
    table.add_row("Fiches action importées", summary["import"].summary_fr)
    table.add_row("Invitations (référents CLAS)", f"{summary['invited'].sent} envoyées")
    console.print(table)


def show_logins(logins: dict, port: int) -> None:
    """Plain lines, never cut: a table narrower than its content would truncate the addresses in
    an 80-column terminal, and they are to be copied."""
    print(f"\nComptes de démonstration (http://127.0.0.1:{port}/connexion) :", flush=True)
    for role, (email, password) in logins.items():
        print(f"  {role} : {email}  mot de passe : {password}", flush=True)
