"""A bad setting stops every process at start with its message in French then English, never a
traceback; `parentalites check-config` shows the effective settings with the secrets masked.

No database or broker is needed: the checks run before anything is opened."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from core import settings as settings_module
from core.settings import VARIABLES
from parentalites import bootstrap as bootstrap_module
from parentalites import celery_app as celery_module
from parentalites.bootstrap import BAD_SETTINGS_EXIT_STATUS, read_all_settings
from parentalites.cli import main

BAD_KEY = "-----BEGIN PRIVATE KEY-----\\nbm90IGEga2V5\\n-----END PRIVATE KEY-----"


@pytest.fixture
def environment(monkeypatch, tmp_path):
    """An empty configuration (every variable unset) on a fresh data directory; `set(**values)`
    adds variables. The settings are forgotten before and after, and the bootstrap runs its checks
    again even if another test has bootstrapped this process."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("PARENTALITES_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(settings_module, "_settings", None)
    monkeypatch.setattr(bootstrap_module, "_done", False)

    def set_(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
    yield set_
    settings_module.reset_settings()


def ed25519_pem() -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def assert_two_lines_per_problem(text: str, *variables: str) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 2 * len(variables), text
    for index, variable in enumerate(variables):
        french, english = lines[2 * index], lines[2 * index + 1]
        assert variable in french and variable in english, (french, english)
    assert "Traceback" not in text


# --- Mailing's checks, run by the bootstrap -------------------------------------------------------

@pytest.mark.parametrize("variable, value, french, english", [
    ("SMTP_URL", "ftp://relay.example.org", "schéma inconnu 'ftp'", "unknown scheme 'ftp'"),
    ("SMTP_URL", "smtp://relay.example.org:port", "adresse illisible", "unreadable URL"),
    ("SMTP_RELAYS", "smtp://a:25 weight=0", "weight doit être un entier", "weight must be a whole number"),
    ("SMTP_RELAYS", "smtp://a:25 wieght=3", "option inconnue « wieght=3 »", "unknown option 'wieght=3'"),
    ("SMTP_RELAYS", "ftp://a:25", "n'est pas une adresse de relais SMTP", "is not an SMTP relay URL"),
    ("SMTP_RELAYS", "smtp://a:25 fallback", "au moins un relais principal", "at least one primary relay"),
    ("DOMAIN_CAPS", "gmail.com=600", "n'est pas de la forme domaine=N/S", "is not of the form domain=N/S"),
    ("DOMAIN_CAPS", "gmail.com=0/60", "N et S doivent être strictement positifs", "N and S must be above 0"),
])
def test_mailing_values_are_checked_at_start(environment, variable, value, french, english):
    environment(**{variable: value})
    _, problems = read_all_settings(create_files=False)
    assert len(problems) == 1, [p.message for p in problems]
    assert problems[0].variable == variable
    assert problems[0].fr.startswith(variable) and french in problems[0].fr
    assert problems[0].en.startswith(variable) and english in problems[0].en


@pytest.mark.parametrize("values, variable, fragment_fr, fragment_en", [
    ({"DKIM_PRIVATE_KEY": BAD_KEY}, "DKIM_PRIVATE_KEY", "n'a pas pu être lue", "could not be read"),
    ({"DKIM_PRIVATE_KEY": "/nulle/part/dkim.pem"}, "DKIM_PRIVATE_KEY", "ni une clé PEM ni un fichier lisible",
     "neither a PEM key nor a readable file"),
    ({"DKIM_PRIVATE_KEY": ""}, "DKIM_PRIVATE_KEY", "vont ensemble", "go together"),  # empty: unset
    ({"DKIM_DOMAIN": "exemple org"}, "DKIM_DOMAIN", "DKIM_DOMAIN invalide", "invalid DKIM_DOMAIN"),
])
def test_dkim_is_checked_at_start(environment, values, variable, fragment_fr, fragment_en):
    environment(DKIM_DOMAIN="parentalites.example.org", DKIM_SELECTOR="lettre", DKIM_PRIVATE_KEY=ed25519_pem())
    assert read_all_settings(create_files=False)[1] == []
    environment(**values)
    _, problems = read_all_settings(create_files=False)
    assert [p.variable for p in problems] == [variable]
    assert variable in problems[0].fr and fragment_fr in problems[0].fr
    assert variable in problems[0].en and fragment_en in problems[0].en


# --- check-config ---------------------------------------------------------------------------------

def test_check_config_shows_the_settings_and_masks_every_secret(environment, tmp_path):
    pem = ed25519_pem()
    key_body = "".join(pem.splitlines()[1:-1])
    key_file = tmp_path / "dkim.pem"
    key_file.write_text(pem)
    environment(
        SECRET_KEY="cle-secrete-de-session",
        DATABASE_URL="postgresql+psycopg://parentalites:pg-pass@db.example.org/parentalites",
        CELERY_BROKER_URL="redis://:redis-pass@127.0.0.1:6379/3",
        SMTP_URL="smtp+starttls://lettre:smtp-pass@relay.example.org:587",
        SMTP_RELAYS="smtps://a:relay-pass@a.example.org:465 weight=2; smtp://b.example.org:25 fallback",
        RATELIMIT_STORAGE_URI="redis://:limiter-pass@127.0.0.1:6379/4",
        BOUNCE_IMAP_URL="imaps://retours:imap-pass@imap.example.org:993/INBOX",
        BOUNCE_WEBHOOK_TOKEN="jeton-du-webhook",
        DKIM_DOMAIN="parentalites.example.org", DKIM_SELECTOR="lettre", DKIM_PRIVATE_KEY=pem,
        MAILOUT_BATCH_SIZE="50")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0, result.output
    for secret in ("cle-secrete-de-session", "pg-pass", "redis-pass", "smtp-pass", "relay-pass", "limiter-pass",
                   "imap-pass", "jeton-du-webhook", key_body, "BEGIN PRIVATE KEY"):
        assert secret not in result.output, secret
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert {variable.name for variable in VARIABLES} <= set(lines)
    assert "smtp+starttls://lettre:***@relay.example.org:587" in lines["SMTP_URL"]
    assert "redis://:***@127.0.0.1:6379/3" in lines["CELERY_BROKER_URL"]
    assert "smtps://a:***@a.example.org:465 weight=2" in lines["SMTP_RELAYS"]
    assert "imaps://retours:***@imap.example.org:993/INBOX" in lines["BOUNCE_IMAP_URL"]
    assert " 50 " in lines["MAILOUT_BATCH_SIZE"] and "environment" in lines["MAILOUT_BATCH_SIZE"]
    assert " 300 " in lines["MAILOUT_STALE_AFTER"] and "default" in lines["MAILOUT_STALE_AFTER"]
    assert "parentalites.example.org" in lines["DKIM_DOMAIN"]
    # The key given as a file is masked too.
    environment(DKIM_PRIVATE_KEY=str(key_file))
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 0 and key_body not in result.output


def test_check_config_exits_1_with_every_error(environment, tmp_path):
    environment(MAILOUT_PARALLELISM="quatre", SMTP_URL="ftp://lettre:smtp-pass@relay.example.org",
                DOMAIN_CAPS="gmail.com", LOG_FORMAT="xml")
    result = CliRunner().invoke(main, ["check-config"])
    assert result.exit_code == 1
    assert "MAILOUT_PARALLELISM" in result.stdout and "INVALID" in result.stdout  # the table is shown too
    assert_two_lines_per_problem(result.stderr, "MAILOUT_PARALLELISM", "LOG_FORMAT", "SMTP_URL", "DOMAIN_CAPS")
    assert "smtp-pass" not in result.output
    assert not (tmp_path / "data").exists()  # nothing written, not even the secret key


# --- Every process stops at start ---------------------------------------------------------------

def test_a_bad_value_stops_a_cli_command(environment):
    environment(ISSUES_PER_YEAR="-3")
    result = CliRunner().invoke(main, ["calendar", "generate", "2031"])
    assert result.exit_code == BAD_SETTINGS_EXIT_STATUS != 0
    assert_two_lines_per_problem(result.stderr, "ISSUES_PER_YEAR")
    assert result.stderr.startswith("ISSUES_PER_YEAR doit être compris entre 1 et 12 (reçu -3).\n"
                                    "ISSUES_PER_YEAR must be between 1 and 12 (got -3).")


def test_a_bad_value_stops_the_worker_before_celery_starts(environment, monkeypatch):
    started = []
    monkeypatch.setattr(celery_module.celery_app, "worker_main", lambda argv: started.append(argv))
    environment(SMTP_RELAYS="smtp://a:25 per_hour=1.5")
    result = CliRunner().invoke(main, ["worker"])
    assert result.exit_code == BAD_SETTINGS_EXIT_STATUS and started == []
    assert_two_lines_per_problem(result.stderr, "SMTP_RELAYS")


def test_a_bad_value_stops_a_worker_started_by_celery_itself(environment, capsys):
    environment(DOMAIN_CAPS="gmail.com=1/0")
    with pytest.raises(SystemExit) as stopped:
        celery_module._bootstrap_worker()
    assert stopped.value.code == BAD_SETTINGS_EXIT_STATUS
    assert_two_lines_per_problem(capsys.readouterr().err, "DOMAIN_CAPS")


def test_a_bad_value_stops_create_app(environment, capsys):
    from parentalites.app import create_app
    environment(LOG_FORMAT="xml", BASE_URL="ftp://lettre.example.org")
    with pytest.raises(SystemExit) as stopped:
        create_app({"TESTING": True})
    assert stopped.value.code == BAD_SETTINGS_EXIT_STATUS
    assert_two_lines_per_problem(capsys.readouterr().err, "BASE_URL", "LOG_FORMAT")
    assert bootstrap_module._done is False  # nothing was wired


def test_a_good_configuration_passes_the_start_checks(environment):
    environment(DKIM_DOMAIN="parentalites.example.org", DKIM_SELECTOR="lettre", DKIM_PRIVATE_KEY=ed25519_pem(),
                SMTP_RELAYS="smtp://a:25 weight=3 per_second=50; smtp+starttls://u:p@b:587 fallback",
                DOMAIN_CAPS="gmail.com=600/60, orange.fr=200/min")
    assert read_all_settings(create_files=False)[1] == []
