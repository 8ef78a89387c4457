"""The `parentalites` command."""
from __future__ import annotations

import sys
from pathlib import Path

import click


@click.group(help="Parentalités : la lettre du Réaap et du réseau CLAS.")
def main() -> None:
    pass


@main.command(help="Démo complète sur SQLite : contribution → modération → numéro n°1 envoyé et archivé, puis le site.")
@click.option("--no-serve", is_flag=True, help="S'arrêter après le cycle, une fois chaque livraison enregistrée.")
@click.option("--port", default=8000, show_default=True, help="Port du site.")
def demo(no_serve: bool, port: int) -> None:
    from newsletter.demo import DemoError, console, run
    try:
        sys.exit(run(serve=not no_serve, port=port))
    except DemoError as exc:
        console.print(f"[bold red]Démo interrompue :[/] {exc}")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(0)


@main.command(help="Servir le site sur le dossier de données tel qu'il est (développement).")
@click.option("--port", default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
def serve(port: int, host: str) -> None:
    from newsletter.app import create_app
    create_app().run(host=host, port=port, threaded=True, use_reloader=False)


@main.command(help="Démarrer un worker Celery.")
@click.option("--concurrency", type=int, default=None)
@click.option("--loglevel", default="INFO", show_default=True)
def worker(concurrency: int | None, loglevel: str) -> None:
    from tasks.celery_app import celery_app
    argv = ["worker", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    celery_app.worker_main(argv)


@main.command(help="Démarrer Celery beat (envois programmés, reprise après panne).")
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    from tasks.celery_app import celery_app
    celery_app.start(["beat", f"--loglevel={loglevel}"])


@main.command(help="Serveur SMTP local qui range chaque message reçu dans le Maildir du dossier de données.")
@click.option("--port", type=int, default=None)
def catcher(port: int | None) -> None:
    import time
    from newsletter.catcher import start_catcher
    from newsletter.settings import get_settings
    settings = get_settings()
    controller = start_catcher(settings.maildir, port or settings.catcher_port)
    click.echo(f"Capteur SMTP sur 127.0.0.1:{port or settings.catcher_port}, Maildir {settings.maildir}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


@main.group(help="Base de données.")
def db() -> None:
    pass


@db.command(help="Appliquer les migrations Alembic (SQLite ou PostgreSQL).")
def upgrade() -> None:
    from newsletter import migrate
    migrate.upgrade()
    click.echo("Base de données à jour.")


@main.group(help="Archive publique des lettres.")
def archive() -> None:
    pass


@archive.command("export", help="Écrire l'archive en site statique dans DIR (index.html, un dossier par lettre, feed.atom).")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def archive_export(directory: Path) -> None:
    from newsletter import archive as archive_service
    from newsletter.db import get_engine, session
    import newsletter.all_models  # noqa: F401
    get_engine()
    written = archive_service.export_static(session(), directory)
    click.echo(f"{len(written)} fichiers écrits dans {directory}")


@main.group(help="Envois de la lettre.")
def mailout() -> None:
    pass


def _issue_by_numero(numero: int):
    from sqlalchemy import select
    import newsletter.all_models  # noqa: F401
    import tasks.celery_app  # noqa: F401  resume wakes workers through the broker
    from newsletter.db import get_engine, session
    from newsletter.models import Issue
    get_engine()
    issue = session().scalar(select(Issue).where(Issue.numero == numero))
    if issue is None:
        raise click.ClickException(f"Aucun numéro {numero}.")
    return session(), issue


@mailout.command("status", help="Progression de l'envoi du numéro N (--follow : jusqu'à la fin).")
@click.argument("numero", type=int)
@click.option("--follow", is_flag=True, help="Suivre l'envoi jusqu'à ce qu'il s'arrête.")
def mailout_status(numero: int, follow: bool) -> None:
    import time
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
    from newsletter import mailout as engine
    from newsletter.formatting import format_duration
    from newsletter.models import IssueStatus
    db, issue = _issue_by_numero(numero)
    console = Console()

    def line(p) -> str:
        rate = f", {p.rate:.1f} msg/s" if p.rate else ""
        eta = f", fin dans {format_duration(p.eta_seconds)}" if p.eta_seconds is not None else ""
        return (f"N°{issue.numero} [{issue.status.value}] : {p.sent} envoyé(s), {p.failed} en échec, "
                f"{p.remaining} restant(s) sur {p.total}{rate}{eta}")
    p = engine.progress(db, issue.id)
    if not follow or issue.status is not IssueStatus.sending:
        console.print(line(p))
        if issue.send_error:
            console.print(f"[yellow]{issue.send_error}[/]")
        return
    with Progress(TextColumn(f"N°{issue.numero}"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), console=console) as bar:
        task = bar.add_task("envoi", total=p.total, rate="")
        while True:
            db.expire_all()
            p = engine.progress(db, issue.id)
            bar.update(task, total=p.total, completed=p.done, rate=f"{p.rate or 0:.1f} msg/s")
            if db.get(type(issue), issue.id).status is not IssueStatus.sending:
                break
            time.sleep(1)
    console.print(line(p))


def _control(numero: int, action: str) -> None:
    from newsletter import mailout as engine
    db, issue = _issue_by_numero(numero)
    try:
        getattr(engine, action)(db, issue)
    except engine.MailoutError as exc:
        raise click.ClickException(str(exc)) from exc


@mailout.command("pause", help="Mettre en pause l'envoi du numéro N.")
@click.argument("numero", type=int)
def mailout_pause(numero: int) -> None:
    _control(numero, "pause")
    click.echo(f"Envoi du n°{numero} en pause.")


@mailout.command("resume", help="Reprendre l'envoi du numéro N.")
@click.argument("numero", type=int)
def mailout_resume(numero: int) -> None:
    _control(numero, "resume")
    click.echo(f"Envoi du n°{numero} repris.")


@mailout.command("cancel", help="Annuler l'envoi du numéro N (les destinataires restants ne le recevront pas).")
@click.argument("numero", type=int)
@click.confirmation_option(prompt="Annuler l'envoi ? Les destinataires restants ne recevront pas ce numéro.")
def mailout_cancel(numero: int) -> None:
    from newsletter import mailout as engine
    db, issue = _issue_by_numero(numero)
    try:
        count = engine.cancel(db, issue)
    except engine.MailoutError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Envoi du n°{numero} annulé : {count} destinataire(s) ne le recevront pas.")


@main.group(help="Comptes.")
def user() -> None:
    pass


@user.command("create", help="Créer un compte (rédaction, admin ou partenaire d'une structure).")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["editor", "admin", "partner"]), default="editor", show_default=True)
@click.option("--structure-id", type=int, default=None)
@click.password_option()
def user_create(email: str, name: str, role: str, structure_id: int | None, password: str) -> None:
    import newsletter.all_models  # noqa: F401
    from newsletter.auth import create_user
    from newsletter.db import get_engine, session
    from newsletter.models import Role
    if role == "partner" and structure_id is None:
        raise click.ClickException("Un compte partenaire doit être rattaché à une structure (--structure-id).")
    get_engine()
    create_user(session(), email, name, Role(role), password, structure_id)
    session().commit()
    click.echo(f"Compte {email} créé.")


if __name__ == "__main__":
    main()
