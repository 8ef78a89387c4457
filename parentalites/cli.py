"""The `parentalites` command."""
from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.orm import Session

from accounts.auth import create_user, find_user
from accounts.models import Role, User
from contributions import feeds as feed_polling
from contributions import structures
from contributions.importer import ImportFileError, import_actions
from contributions.models import Structure, StructureKind
from core.db import get_engine, session
from core.formatting import format_duration, plural
from core.settings import SettingsError, describe_settings, get_settings
from newsletter import archive as archive_service
from newsletter import calendar, mailout
from newsletter.models import Issue, IssueStatus
from parentalites.bootstrap import bootstrap, check_settings, exit_on_bad_settings, read_all_settings
from subscribers import directory as subscriber_directory
from subscribers.models import SubscriberStatus


@click.group(help="Parentalités : la lettre du Réaap et du réseau CLAS.")
@click.pass_context
def main(ctx: click.Context) -> None:
    if ctx.invoked_subcommand == "demo":
        _refuse_a_foreign_demo_dir()  # before the settings write the secret key file there
    # Every command starts with the settings checked: a bad variable stops it with its message.
    if ctx.invoked_subcommand != "check-config":  # which reports them itself
        try:
            check_settings()
        except SettingsError as error:
            exit_on_bad_settings(error)


def _refuse_a_foreign_demo_dir() -> None:
    from core.settings import read_settings
    from parentalites.demo import DemoError, check_data_dir, console
    settings, _ = read_settings(create_files=False)  # writes nothing; bad values are reported next
    try:
        check_data_dir(settings.data_dir)
    except DemoError as exc:
        console.print(f"[bold red]Démo interrompue :[/] {exc}")
        sys.exit(1)


@main.command("check-config", help="Afficher la configuration effective (secrets masqués) et sa provenance ; "
                                   "code de sortie 1 si une variable est invalide.")
def check_config() -> None:
    settings, problems = read_all_settings(create_files=False)
    shown = describe_settings(settings, problems)
    width = max(len(line.variable) for line in shown)
    for line in shown:
        click.echo(f"{line.variable:<{width}}  {line.value}  [{line.source}]")
    if problems:
        click.echo("", err=True)
        for problem in problems:
            click.echo(problem.message, err=True)
        sys.exit(1)
    click.echo("\nConfiguration valide. / The configuration is valid.")


@main.command(help="Démo complète sur SQLite : contribution → modération → numéro n°1 envoyé et archivé, puis le site.")
@click.option("--no-serve", is_flag=True, help="S'arrêter après le cycle, une fois chaque livraison enregistrée.")
@click.option("--port", default=8000, show_default=True, help="Port du site.")
def demo(no_serve: bool, port: int) -> None:
    from parentalites.demo import DemoError, console, run
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
    from parentalites.app import create_app
    create_app().run(host=host, port=port, threaded=True, use_reloader=False)


def _queue_families(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str] | None:
    if not value:
        return None
    from parentalites.celery_app import QUEUE_FAMILIES
    families = [part.strip() for part in value.split(",") if part.strip()]
    unknown = [family for family in families if family not in QUEUE_FAMILIES]
    if unknown or not families:
        raise click.BadParameter(f"{plural(len(unknown), 'file inconnue', 'files inconnues')} : "
                                 f"{', '.join(unknown) or value} "
                                 f"(attendu parmi {', '.join(QUEUE_FAMILIES)}, séparées par des virgules)")
    return families


@main.command(help="Démarrer un worker Celery.")
@click.option("--concurrency", type=int, default=None)
@click.option("--loglevel", default="INFO", show_default=True)
@click.option("--queues", callback=_queue_families, default=None,
              help="Files à traiter, parmi send, poll, housekeeping (par défaut : toutes). "
                   "Ex. : --queues send et un autre worker --queues poll,housekeeping.")
def worker(concurrency: int | None, loglevel: str, queues: list[str] | None) -> None:
    from parentalites.celery_app import celery_app, queue_names
    argv = ["worker", f"--loglevel={loglevel}", "--without-gossip", "--without-mingle"]
    if concurrency:
        argv.append(f"--concurrency={concurrency}")
    if queues:
        argv.append(f"--queues={','.join(queue_names(queues))}")
    celery_app.worker_main(argv)


@main.command(help="Démarrer Celery beat (envois programmés, reprise après panne).")
@click.option("--loglevel", default="INFO", show_default=True)
def beat(loglevel: str) -> None:
    from parentalites.celery_app import celery_app
    celery_app.start(["beat", f"--loglevel={loglevel}"])


@main.command(help="Serveur SMTP local qui range chaque message reçu dans le Maildir du dossier de données.")
@click.option("--port", type=int, default=None)
def catcher(port: int | None) -> None:
    import time

    from parentalites.catcher import start_catcher
    settings = get_settings()
    controller = start_catcher(settings.maildir, port or settings.catcher_port)
    click.echo(f"Capteur SMTP sur 127.0.0.1:{port or settings.catcher_port}, Maildir {settings.maildir}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        controller.stop()


@main.group("db", help="Base de données.")
def db_group() -> None:
    pass


@db_group.command(help="Appliquer les migrations Alembic (SQLite ou PostgreSQL).")
def upgrade() -> None:
    from parentalites import migrate
    migrate.upgrade()
    click.echo("Base de données à jour.")


@main.group("archive", help="Archive publique des lettres.")
def archive_group() -> None:
    pass


def _open_database() -> None:
    """Every command that reads the database: the one bootstrap (models, job sender, settings
    checked), then the engine."""
    bootstrap()
    get_engine()


@contextmanager
def _unit_of_work() -> Iterator[Session]:
    """A command that writes does it in this block: one COMMIT at its end (the jobs its services
    enqueued leave then), a rollback if it raises (a ClickException included)."""
    _open_database()
    db = session()
    try:
        yield db
    except BaseException:
        db.rollback()
        raise
    db.commit()  # the command's one COMMIT


@archive_group.command(
    "export", help="Écrire l'archive en site statique dans DIR (index.html, un dossier par lettre, feed.atom).")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def archive_export(directory: Path) -> None:
    with _unit_of_work() as db:  # a PDF whose job never ran is made, and kept, on the way
        written = archive_service.export_static(db, directory)
    click.echo(f"{len(written)} fichiers écrits dans {directory}")


@archive_group.command(
    "pdf", help="Faire le PDF des lettres publiées qui n'en ont pas (ou de NUMERO ; --refaire : à nouveau).")
@click.argument("numero", type=int, required=False)
@click.option("--refaire", "force", is_flag=True, help="Refaire le PDF même s'il existe déjà.")
def archive_pdf(numero: int | None, force: bool) -> None:
    from newsletter import letter_pdf

    with _unit_of_work() as db:
        issues = archive_service.published_issues(db)
        if numero is not None:
            issues = [i for i in issues if i.numero == numero]
            if not issues:
                raise click.ClickException(f"Aucune lettre publiée ne porte le n°{numero}.")
        for issue in issues:
            pdf = letter_pdf.make_letter_pdf(db, issue.id, force=force)
            assert pdf is not None  # a published letter
            click.echo(f"n°{issue.numero} : {pdf.size // 1024} Ko ({pdf.seconds or 0:.1f} s)")


@archive_group.command("reindex", help="Réindexer les articles de toutes les lettres publiées pour la recherche.")
def archive_reindex() -> None:
    from newsletter import archive_search

    with _unit_of_work() as db:
        count = archive_search.reindex_all(db)
    click.echo(f"{count} articles indexés")


@main.group("mailout", help="Envois de la lettre.")
def mailout_group() -> None:
    pass


def _issue_by_numero(numero: int):
    from sqlalchemy import select

    _open_database()
    issue = session().scalar(select(Issue).where(Issue.numero == numero))
    if issue is None:
        raise click.ClickException(f"Aucun numéro {numero}.")
    return session(), issue


@mailout_group.command("status", help="Progression de l'envoi du numéro N (--follow : jusqu'à la fin).")
@click.argument("numero", type=int)
@click.option("--follow", is_flag=True, help="Suivre l'envoi jusqu'à ce qu'il s'arrête.")
def mailout_status(numero: int, follow: bool) -> None:
    import time

    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    db, issue = _issue_by_numero(numero)
    console = Console()

    def line(p) -> str:
        rate = f", {p.rate:.1f} msg/s" if p.rate else ""
        eta = f", fin dans {format_duration(p.eta_seconds)}" if p.eta_seconds is not None else ""
        return (f"N°{issue.numero} [{issue.status.value}] : {p.sent} {plural(p.sent, 'envoyé', 'envoyés')}, "
                f"{p.failed} en échec, {p.remaining} {plural(p.remaining, 'restant', 'restants')} sur {p.total}"
                f"{rate}{eta}")
    p = mailout.progress(db, issue.id)
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
            p = mailout.progress(db, issue.id)
            bar.update(task, total=p.total, completed=p.done, rate=f"{p.rate or 0:.1f} msg/s")
            if db.get(type(issue), issue.id).status is not IssueStatus.sending:
                break
            time.sleep(1)
    console.print(line(p))


def _control(numero: int, action: str) -> None:
    with _unit_of_work():
        db, issue = _issue_by_numero(numero)
        try:
            getattr(mailout, action)(db, issue)
        except mailout.MailoutError as exc:
            raise click.ClickException(str(exc)) from exc


@mailout_group.command("pause", help="Mettre en pause l'envoi du numéro N.")
@click.argument("numero", type=int)
def mailout_pause(numero: int) -> None:
    _control(numero, "pause")
    click.echo(f"Envoi du n°{numero} en pause.")


@mailout_group.command("resume", help="Reprendre l'envoi du numéro N.")
@click.argument("numero", type=int)
def mailout_resume(numero: int) -> None:
    _control(numero, "resume")
    click.echo(f"Envoi du n°{numero} repris.")


@mailout_group.command("cancel", help="Annuler l'envoi du numéro N (les destinataires restants ne le recevront pas).")
@click.argument("numero", type=int)
@click.confirmation_option(prompt="Annuler l'envoi ? Les destinataires restants ne recevront pas ce numéro.")
def mailout_cancel(numero: int) -> None:
    with _unit_of_work():
        db, issue = _issue_by_numero(numero)
        try:
            count = mailout.cancel(db, issue)
        except mailout.MailoutError as exc:
            raise click.ClickException(str(exc)) from exc
    who = plural(count, "destinataire ne le recevra", "destinataires ne le recevront")
    click.echo(f"Envoi du n°{numero} annulé : {count} {who} pas.")


@main.group("user", help="Comptes.")
def user_group() -> None:
    pass


@user_group.command("create", help="Créer un compte (rédaction, admin ou partenaire d'une structure).")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", type=click.Choice(["editor", "admin", "partner"]), default="editor", show_default=True)
@click.option("--structure-id", type=int, default=None)
@click.password_option()
def user_create(email: str, name: str, role: str, structure_id: int | None, password: str) -> None:
    if role == "partner" and structure_id is None:
        raise click.ClickException("Un compte partenaire doit être rattaché à une structure (--structure-id).")
    with _unit_of_work() as db:
        create_user(db, email, name, Role(role), password, structure_id)
    click.echo(f"Compte {email} créé.")


@main.group("structure", help="Structures partenaires.")
def structure_group() -> None:
    pass


@structure_group.command("create", help="Créer une structure partenaire (affiche son identifiant).")
@click.option("--name", required=True, help="Nom de la structure.")
@click.option("--kind", type=click.Choice(["centre_social", "evs", "association", "ville", "caf",
                                            "education_nationale", "autre"]), default="association",
              show_default=True, help="Type de structure.")
@click.option("--commune", default="")
@click.option("--departement", default="")
@click.option("--website", default=None, help="Site web (http:// ou https://).")
@click.option("--feed-url", default=None, help="Flux RSS ou Atom relevé automatiquement.")
def structure_create(name: str, kind: str, commune: str, departement: str, website: str | None,
                     feed_url: str | None) -> None:
    try:
        with _unit_of_work() as db:
            created = structures.create_structure(db, structures.StructureData(
                name=name, kind=StructureKind(kind), commune=commune, departement=departement,
                website=website, feed_url=feed_url))
    except structures.StructureError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Structure {created.id} créée : {created.name}")


@main.group("partner", help="Comptes partenaires.")
def partner_group() -> None:
    pass


@partner_group.command(
    "invite", help="Inviter EMAIL comme partenaire d'une structure (e-mail avec un lien valable 7 jours).")
@click.argument("email")
@click.option("--structure", "structure_id", type=int, required=True, help="Identifiant de la structure.")
@click.option("--name", default="", help="Nom de la personne (par défaut : le début de l'adresse).")
def partner_invite(email: str, structure_id: int, name: str) -> None:
    with _unit_of_work() as db:
        target = db.get(Structure, structure_id)
        if target is None:
            raise click.ClickException(f"Aucune structure {structure_id}.")
        try:
            if not name and find_user(db, email) is None:
                name = email.strip().split("@")[0]
            invited = structures.invite_partner(db, target, email, name)
        except structures.InvitationError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"Invitation envoyée à {invited.email} pour {target.name}.")


@main.group("feeds", help="Flux RSS / Atom des structures.")
def feeds_group() -> None:
    pass


@feeds_group.command("poll", help="Relever maintenant le flux de chaque structure qui en a un (ou d'une seule).")
@click.option("--structure", "structure_id", type=int, default=None, help="Identifiant de la structure.")
@click.option("--due", is_flag=True, help="Seulement les flux non relevés depuis FEED_POLL_MINUTES.")
def feeds_poll(structure_id: int | None, due: bool) -> None:
    with _unit_of_work() as db:
        results = ([feed_polling.poll_structure(db, structure_id)] if structure_id is not None
                   else feed_polling.poll_all(db, only_due=due))
    failed = 0
    for result in results:
        if result.status == "skipped":
            raise click.ClickException(f"La structure {result.structure_id} n'existe pas ou n'a pas de flux.")
        if result.status == "failed":
            failed += 1
            click.echo(f"Structure {result.structure_id} : échec — {result.error}")
            continue
        line = (f"Structure {result.structure_id} : inchangé depuis le dernier relevé"
                if result.status == "not_modified"
                else f"Structure {result.structure_id} : {result.created} "
                     f"{plural(result.created, 'nouvelle contribution', 'nouvelles contributions')}, "
                     f"{result.duplicates} {plural(result.duplicates, 'déjà connue', 'déjà connues')}")
        click.echo(line + (f" — avertissement : {result.warning}" if result.warning else ""))
    click.echo(f"{len(results)} flux {plural(len(results), 'relevé', 'relevés')}, {failed} en échec.")
    if failed:
        sys.exit(1)


@main.group("import", help="Importer des données.")
def import_group() -> None:
    pass


@import_group.command("actions", help="Importer des fiches action : export texte de la base nationale des actions "
                                       "des centres sociaux, ou CSV (une colonne par champ). Ré-importer met à jour.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--as", "as_email", default=None, metavar="EMAIL",
              help="Compte de la rédaction qui importe (inscrit dans l'historique des fiches).")
def import_actions_command(file: Path, as_email: str | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn
    from sqlalchemy import func, select

    console = Console()
    progress = Progress(TextColumn("Import"), BarColumn(), MofNCompleteColumn(), console=console, transient=True,
                        disable=not console.is_terminal)
    task: TaskID | None = None

    def start(total: int) -> None:
        nonlocal task
        task = progress.add_task("import", total=total)

    def line(report_line) -> None:
        progress.console.print(str(report_line), markup=False, highlight=False, soft_wrap=True)
        assert task is not None  # import_actions calls on_start before any on_line
        progress.advance(task)

    with _unit_of_work() as db:
        actor = None
        if as_email:
            actor = db.scalar(select(User).where(func.lower(User.email) == as_email.strip().lower()))
            if actor is None or not actor.active or not actor.is_editor:
                raise click.ClickException(f"{as_email} n'est pas un compte actif de la rédaction.")
        try:
            with progress:
                report = import_actions(db, file, actor, on_line=line, on_start=start, commit_chunks=True)
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from exc
    for note in report.notes:
        console.print(f"note: {note}", markup=False, highlight=False)
    console.print(report.summary, markup=False, highlight=False)



@main.group("calendar", help="Calendrier éditorial.")
def calendar_group() -> None:
    pass


@calendar_group.command("generate", help="Prévoir les lettres de l'année YEAR (ISSUES_PER_YEAR par défaut).")
@click.argument("year", type=int)
@click.option("--count", type=int, default=None, help="Nombre de lettres dans l'année.")
def calendar_generate(year: int, count: int | None) -> None:
    try:
        with _unit_of_work() as db:
            created = calendar.generate_year(db, year, count)
    except calendar.CalendarError as exc:
        raise click.ClickException(str(exc)) from exc
    for planned in created:
        click.echo(f"Lettre du {planned.issue_date:%d/%m/%Y}, date limite le {planned.deadline:%d/%m/%Y}")
    click.echo(f"{len(created)} {plural(len(created), 'lettre ajoutée', 'lettres ajoutées')}.")


@calendar_group.command("send-due", help="Envoyer les appels à contributions et rappels dus (ce que fait beat).")
def calendar_send_due() -> None:
    with _unit_of_work() as db:
        sent = calendar.send_due(db)
    click.echo(f"{sent['calls']} {plural(sent['calls'], 'appel', 'appels')} à contributions, "
               f"{sent['reminders']} {plural(sent['reminders'], 'rappel', 'rappels')} à la rédaction.")


# --- Subscribers: import, export, purge ------------------------------------------------------------

@main.group("subscribers", help="Abonnés à la lettre : import, export, durées de conservation.")
def subscribers_group() -> None:
    pass


@subscribers_group.command("purge", help="Appliquer les durées de conservation (RGPD) : demande de re-consentement "
                                         "après RETENTION_YEARS sans signe de vie, effacement sans réponse ou "
                                         "d'un abonnement non confirmé, anonymisation des inscriptions anciennes ; "
                                         "ce que beat fait chaque jour.")
@click.option("--dry-run", is_flag=True, help="Compter seulement : ne rien envoyer, ne rien effacer.")
def subscribers_purge(dry_run: bool) -> None:
    from events import retention as events_retention
    from subscribers import retention
    with _unit_of_work() as db:
        report = retention.purge(db, dry_run=dry_run)
        report.others["registrations_anonymised"] = events_retention.anonymise_expired_registrations(
            db, dry_run=dry_run)
        if dry_run:
            db.rollback()
    click.echo(("dry run, nothing changed: " if dry_run else "") + report.summary())


@subscribers_group.command("import", help="Importer des abonnés depuis un CSV (; ou ,), colonnes email, nom, "
                                          "structure, thèmes, rôle, commune, département, base légale, date du "
                                          "consentement, source. Ré-importer ne crée aucun doublon.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Montrer ce qui se passerait, sans rien écrire ni envoyer.")
@click.option("--as", "as_email", default=None, metavar="EMAIL",
              help="Compte de la rédaction qui importe (inscrit dans les preuves et l'historique).")
def subscribers_import(file: Path, dry_run: bool, as_email: str | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
    from sqlalchemy import func, select

    from subscribers.importer import ImportFileError, import_file

    errors = Console(stderr=True)
    progress = Progress(TextColumn("Import"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=errors, transient=True, disable=not errors.is_terminal)
    task: TaskID | None = None

    def on_total(total: int) -> None:
        nonlocal task
        task = progress.add_task("import", total=total)

    def on_progress(count: int) -> None:
        if task is not None:
            progress.advance(task, count)

    with _unit_of_work() as db:
        actor = None
        if as_email:
            user = db.scalar(select(User).where(func.lower(User.email) == as_email.strip().lower()))
            if user is None or not user.active or not user.is_editor:
                raise click.ClickException(f"{as_email} n'est pas un compte actif de la rédaction.")
            actor = user.email
        try:
            with progress:
                plan = import_file(db, file.read_bytes(), file.name, actor=actor, dry_run=dry_run,
                                   on_total=on_total, on_progress=on_progress)
        except ImportFileError as exc:
            raise click.ClickException(str(exc)) from exc
        if dry_run:
            db.rollback()
    for note in plan.parsed.notes:
        click.echo(f"note : {note}", err=True)
    for refusal in plan.skipped:
        click.echo(str(refusal))
    if dry_run:
        click.echo("(essai : rien n'a été écrit ni envoyé)", err=True)
    click.echo(plan.summary)



@subscribers_group.command("export", help="Écrire les abonnés dans FILE (CSV UTF-8 avec BOM, « ; »), "
                                          "tous ou ceux d'un statut.")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--status", "status", type=click.Choice([s.value for s in SubscriberStatus]), default=None,
              help="Seulement ce statut (pending, active, unsubscribed, suppressed).")
def subscribers_export(file: Path, status: str | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    _open_database()
    db = session()
    filters = subscriber_directory.Filters(status=SubscriberStatus(status) if status else None)
    total = subscriber_directory.export_count(db, filters)
    console = Console(stderr=True)
    written = 0

    def counted(rows):
        nonlocal written
        for row in rows:
            written += 1
            if written % 500 == 0:
                bar.update(task, completed=written)
            yield row

    with Progress(TextColumn("export"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, transient=True) as bar:
        task = bar.add_task("export", total=total)
        with file.open("w", encoding="utf-8", newline="") as out:
            for chunk in subscriber_directory.csv_chunks(counted(subscriber_directory.export_rows(db, filters))):
                out.write(chunk)
        bar.update(task, completed=written)
    click.echo(f"{written} {plural(written, 'abonné écrit', 'abonnés écrits')} dans {file}")


@main.command("backup", help="Sauvegarder dans DIR (un nouveau dossier) : la base (pg_dump, ou l'API de "
                             "sauvegarde de SQLite), les fichiers déposés, la clé secrète et un manifeste avec les "
                             "sommes SHA-256.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def backup_command(directory: Path) -> None:
    from parentalites import backups
    settings = get_settings()
    try:
        outcome = backups.backup(directory, settings.database_url, settings.data_dir)
    except backups.BackupError as exc:
        click.echo(f"Sauvegarde impossible : {exc}", err=True)
        sys.exit(1)
    files = outcome.manifest["files"]
    total = sum(entry["bytes"] for entry in files.values())
    click.echo(f"Sauvegarde écrite dans {outcome.directory} : {len(files)} fichiers, {total} octets, "
               f"révision {outcome.manifest['alembic_revision']}.")
    for note in outcome.notes:
        click.echo(note)


@main.command("restore", help="Restaurer la sauvegarde DIR : chaque somme de contrôle est vérifiée d'abord ; une base "
                              "qui contient déjà des données est refusée sans --force.")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Écraser une base qui contient déjà des données.")
def restore_command(directory: Path, force: bool) -> None:
    from core import db as database
    from parentalites import backups
    settings = get_settings()
    database.reset_engine()  # no connection of ours holds the database while it is replaced
    try:
        outcome = backups.restore(directory, settings.database_url, settings.data_dir, force=force)
    except backups.BackupError as exc:
        click.echo(f"Restauration refusée : {exc}", err=True)
        sys.exit(1)
    click.echo(f"Sauvegarde du {outcome.manifest['created_at']} restaurée (révision "
               f"{outcome.manifest['alembic_revision']}). Lancez « parentalites db upgrade » si le code est plus "
               f"récent.")
    for note in outcome.notes:
        click.echo(note)


@main.command("report", help="Bilan d'activité de l'année YEAR (lettres, abonnés, événements, partenaires, "
                             "indicateurs du schéma départemental), en PDF A4 dans FILE.")
@click.argument("year", type=int)
@click.option("--pdf", "pdf_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Le fichier PDF à écrire.")
def report(year: int, pdf_file: Path) -> None:
    from parentalites.app import create_app
    from parentalites.statistics.period import MAX_YEAR, MIN_YEAR
    from parentalites.statistics.report import bilan_pdf
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise click.BadParameter(f"une année entre {MIN_YEAR} et {MAX_YEAR}", param_hint="YEAR")
    app = create_app()
    # The report is a template: rendered as the web route does, in a French request context.
    with app.test_request_context("/?lang=fr"):
        pdf = bilan_pdf(session(), year)
    try:
        pdf_file.write_bytes(pdf)
    except OSError as error:
        raise click.ClickException(f"Impossible d'écrire {pdf_file} : {error.strerror}") from error
    click.echo(f"Bilan {year} écrit dans {pdf_file} ({len(pdf) // 1024} Ko)")


if __name__ == "__main__":
    main()
