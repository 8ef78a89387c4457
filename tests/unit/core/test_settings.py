"""Settings: every variable typed and checked, every bad value named in French and English.

Pure unit tests: `read_settings` reads the mapping it is given, never os.environ here."""
from __future__ import annotations

from pathlib import Path

import pytest

from core import settings as settings_module
from core.settings import (
    VARIABLES,
    InvalidSetting,
    SettingsError,
    describe_settings,
    get_settings,
    load_settings,
    mask_url,
    read_settings,
    reset_settings,
)


def env(tmp_path: Path, **values: str) -> dict[str, str]:
    """A whole environment: the data directory and a secret key (nothing written), plus `values`."""
    return {"PARENTALITES_DATA_DIR": str(tmp_path), "SECRET_KEY": "clé-de-test", **values}


def problems_for(tmp_path: Path, **values: str) -> list[InvalidSetting]:
    return read_settings(env(tmp_path, **values))[1]


def only_problem(tmp_path: Path, **values: str) -> InvalidSetting:
    problems = problems_for(tmp_path, **values)
    assert len(problems) == 1, [p.message for p in problems]
    return problems[0]


def test_defaults_are_the_documented_ones(tmp_path):
    settings, problems = read_settings({"PARENTALITES_DATA_DIR": str(tmp_path)})
    assert problems == []
    assert settings.data_dir == tmp_path.resolve()
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'parentalites.sqlite'}"
    assert settings.celery_broker_url == f"sqla+sqlite:///{tmp_path.resolve() / 'broker.sqlite'}"
    assert settings.celery_queue == "parentalites"
    assert (settings.catcher_port, settings.smtp_url) == (8025, "smtp://127.0.0.1:8025")
    assert settings.base_url == "http://127.0.0.1:8000"
    assert settings.mail_from == "Lettre Parentalités <lettre@parentalites.localhost>"
    assert settings.list_id == "Lettre Parentalités <lettre.parentalites.localhost>"
    assert (settings.mailout_batch_size, settings.mailout_parallelism, settings.mailout_stale_after,
            settings.mailout_max_consecutive_failures) == (200, 4, 300, 20)
    assert (settings.smtp_relays, settings.domain_caps, settings.throttle_max_pause) == (None, None, 0.25)
    assert settings.ratelimit_storage_uri == "memory://"
    assert settings.bounce_domain == "parentalites.localhost"  # the domain of MAIL_FROM
    assert (settings.bounce_maildir, settings.bounce_imap_url, settings.bounce_webhook_token) == (None, None, None)
    assert settings.network_name == "Réseau Parentalités"
    assert (settings.issues_per_year, settings.call_for_contributions_days) == (3, 21)
    assert (settings.feed_poll_minutes, settings.feed_failure_threshold) == (60, 3)
    assert (settings.dkim_domain, settings.dkim_selector, settings.dkim_private_key) == (None, None, None)
    assert (settings.log_format, settings.log_level) == ("text", "INFO")
    assert settings.from_environment == {"PARENTALITES_DATA_DIR"}


def test_the_secret_key_is_generated_once_into_the_data_directory(tmp_path):
    first, _ = read_settings({"PARENTALITES_DATA_DIR": str(tmp_path)})
    again, _ = read_settings({"PARENTALITES_DATA_DIR": str(tmp_path)})
    assert len(first.secret_key) > 40 and again.secret_key == first.secret_key
    assert (tmp_path / "secret_key").read_text() == first.secret_key
    fresh = tmp_path / "fresh"
    assert read_settings({"PARENTALITES_DATA_DIR": str(fresh)}, create_files=False)[0].secret_key == ""
    assert not fresh.exists()  # check-config writes nothing


def test_values_are_typed_and_empty_means_unset(tmp_path):
    settings, problems = read_settings(env(
        tmp_path, MAILOUT_BATCH_SIZE=" 7 ", THROTTLE_MAX_PAUSE="0", LOG_LEVEL="debug", LOG_FORMAT="JSON",
        BASE_URL="https://lettre.example.org/", CATCHER_PORT="2525", MAILOUT_PARALLELISM="",
        BOUNCE_MAILDIR="/srv/bounces", BOUNCE_DOMAIN="retours.example.org", MAIL_FROM="lettre@example.org"))
    assert problems == []
    assert (settings.mailout_batch_size, settings.throttle_max_pause) == (7, 0.0)
    assert (settings.log_level, settings.log_format) == ("DEBUG", "json")
    assert settings.base_url == "https://lettre.example.org"
    assert settings.smtp_url == "smtp://127.0.0.1:2525"  # its default follows CATCHER_PORT
    assert settings.mailout_parallelism == 4 and "MAILOUT_PARALLELISM" not in settings.from_environment
    assert settings.bounce_maildir == Path("/srv/bounces") and settings.bounce_domain == "retours.example.org"
    assert read_settings(env(tmp_path, MAIL_FROM="lettre@example.org"))[0].bounce_domain == "example.org"


@pytest.mark.parametrize("variable, value, french, english", [
    ("MAILOUT_BATCH_SIZE", "abc", "doit être un nombre entier (reçu « abc »)", "must be a whole number (got 'abc')"),
    ("MAILOUT_PARALLELISM", "2.5", "doit être un nombre entier", "must be a whole number"),
    ("MAILOUT_STALE_AFTER", "0", "doit être supérieur ou égal à 1 (reçu 0)", "must be at least 1 (got 0)"),
    ("MAILOUT_MAX_CONSECUTIVE_FAILURES", "-1", "doit être positif ou nul (reçu -1)", "must be zero or more (got -1)"),
    ("FEED_POLL_MINUTES", "-5", "supérieur ou égal à 1", "at least 1"),
    ("FEED_FAILURE_THRESHOLD", "0", "supérieur ou égal à 1", "at least 1"),
    ("CALL_FOR_CONTRIBUTIONS_DAYS", "-21", "supérieur ou égal à 1", "at least 1"),
    ("ISSUES_PER_YEAR", "13", "compris entre 1 et 12 (reçu 13)", "between 1 and 12 (got 13)"),
    ("CATCHER_PORT", "70000", "compris entre 1 et 65535", "between 1 and 65535"),
    ("THROTTLE_MAX_PAUSE", "-0.5", "nombre de secondes positif ou nul", "zero or more"),
    ("THROTTLE_MAX_PAUSE", "inf", "nombre de secondes positif ou nul", "zero or more"),
    ("LOG_FORMAT", "xml", "doit valoir text ou json (reçu « xml »)", "must be text or json (got 'xml')"),
    ("LOG_LEVEL", "loud", "doit valoir DEBUG ou INFO ou WARNING ou ERROR", "must be DEBUG or INFO or WARNING or ERROR"),
    ("DATABASE_URL", "mysql://u@h/db",
     "n'est pas une base SQLite ou PostgreSQL", "is not an SQLite or PostgreSQL database"),
    ("DATABASE_URL", "pas une adresse",
     "n'est pas une base SQLite ou PostgreSQL", "is not an SQLite or PostgreSQL database"),
    ("CELERY_BROKER_URL", "ftp://h/", "schéma « ftp » non pris en charge", "unsupported scheme 'ftp'"),
    ("RATELIMIT_STORAGE_URI", "disque://", "schéma « disque » non pris en charge", "unsupported scheme 'disque'"),
    ("BASE_URL", "ftp://lettre.example.org", "schéma « ftp » non pris en charge", "unsupported scheme 'ftp'"),
    ("BASE_URL", "https://", "ne nomme pas d'hôte", "names no host"),
    ("BASE_URL", "https://h:port", "adresse illisible", "unreadable URL"),
    ("BOUNCE_IMAP_URL", "http://imap.example.org", "schéma « http » non pris en charge", "unsupported scheme 'http'"),
    ("BOUNCE_DOMAIN", "retours example.org", "n'est pas un nom de domaine", "is not a domain name"),
    ("MAIL_FROM", "Lettre Parentalités", "ne contient pas d'adresse e-mail", "holds no e-mail address"),
    ("LIST_ID", "lettre",
     "n'est pas de la forme « Nom <identifiant.domaine> »", "is not of the form 'Name <label.domain>'"),
    ("CELERY_QUEUE", "ma file", "ne contient pas d'espace", "holds no whitespace"),
    ("BOUNCE_IMAP_CA_FILE", "/nulle/part/ca.pem", "n'existe pas ou n'est pas un fichier", "does not exist"),
    ("BOUNCE_IMAP_ALLOW_PLAINTEXT", "peut-être", "doit valoir 1 (oui) ou 0 (non)", "must be 1 (yes) or 0 (no)"),
    ("BOUNCE_IMAP_TIMEOUT", "0", "entre 0 (exclu) et 600", "above 0 and at most 600"),
])
def test_a_bad_value_is_named_in_french_and_english(tmp_path, variable, value, french, english):
    problem = only_problem(tmp_path, **{variable: value})
    assert problem.variable == variable
    assert problem.fr.startswith(variable) and french in problem.fr, problem.fr
    assert problem.en.startswith(variable) and english in problem.en, problem.en
    assert problem.message == f"{problem.fr}\n{problem.en}" and str(problem) == problem.fr


@pytest.mark.parametrize("variable, value", [
    ("CELERY_BROKER_URL", "redis://:redis-pass@127.0.0.1:6379/0"),
    ("CELERY_BROKER_URL", "sqla+sqlite:////srv/broker.sqlite"),
    ("CELERY_BROKER_URL", "memory://"),
    ("DATABASE_URL", "postgresql+psycopg://parentalites:pg-pass@db/parentalites"),
    ("RATELIMIT_STORAGE_URI", "redis://:redis-pass@redis:6379/1"),
    ("BOUNCE_IMAP_URL", "imaps://retours:imap-pass@imap.example.org:993/INBOX"),
])
def test_good_urls_are_accepted(tmp_path, variable, value):
    assert problems_for(tmp_path, **{variable: value}) == []


def test_a_password_in_a_bad_url_is_never_repeated(tmp_path):
    problem = only_problem(tmp_path, CELERY_BROKER_URL="ftp://robot:broker-pass@h/")
    assert "broker-pass" not in problem.message and "ftp://robot:***@h/" in problem.message
    problem = only_problem(tmp_path, BOUNCE_IMAP_URL="imap://retours:imap-pass@")
    assert "imap-pass" not in problem.message


def test_every_bad_value_is_reported_and_replaced_by_its_default(tmp_path):
    settings, problems = read_settings(env(tmp_path, MAILOUT_BATCH_SIZE="beaucoup", CATCHER_PORT="-1",
                                            LOG_FORMAT="xml"))
    assert [p.variable for p in problems] == ["CATCHER_PORT", "MAILOUT_BATCH_SIZE", "LOG_FORMAT"]
    assert (settings.mailout_batch_size, settings.catcher_port, settings.log_format) == (200, 8025, "text")
    with pytest.raises(SettingsError) as error:
        load_settings(env(tmp_path, MAILOUT_BATCH_SIZE="beaucoup", CATCHER_PORT="-1", LOG_FORMAT="xml"))
    lines = str(error.value).splitlines()
    assert len(lines) == 6  # two lines per variable: French, then English
    assert lines[2].startswith("MAILOUT_BATCH_SIZE doit") and lines[3].startswith("MAILOUT_BATCH_SIZE must")


def test_a_data_dir_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "fichier").write_text("")
    problem = only_problem(tmp_path, PARENTALITES_DATA_DIR=str(tmp_path / "fichier"))
    assert problem.variable == "PARENTALITES_DATA_DIR" and "n'est pas un dossier" in problem.fr
    assert "is not a directory" in problem.en


def test_get_settings_raises_the_problems(monkeypatch, tmp_path):
    for variable in VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
    monkeypatch.setenv("PARENTALITES_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MAILOUT_STALE_AFTER", "bientôt")
    monkeypatch.setattr(settings_module, "_settings", None)
    with pytest.raises(SettingsError) as error:
        get_settings()
    assert [p.variable for p in error.value.problems] == ["MAILOUT_STALE_AFTER"]
    monkeypatch.setenv("MAILOUT_STALE_AFTER", "30")
    reset_settings()
    assert get_settings().mailout_stale_after == 30


def test_mask_url():
    assert mask_url("smtp+starttls://lettre:mot-de-passe@relay.example.org:587") == \
        "smtp+starttls://lettre:***@relay.example.org:587"
    assert mask_url("redis://:redis-pass@127.0.0.1:6379/0") == "redis://:***@127.0.0.1:6379/0"
    assert mask_url("smtp://a:p1@h1:25 weight=2; smtps://b:p2@h2:465 fallback") == \
        "smtp://a:***@h1:25 weight=2; smtps://b:***@h2:465 fallback"
    assert mask_url("smtp://a:p@ss@h:25") == "smtp://a:***@h:25"  # an unencoded @ in the password
    assert mask_url("smtp://127.0.0.1:8025") == "smtp://127.0.0.1:8025"


def test_describe_masks_secrets_and_says_where_each_value_comes_from(tmp_path):
    environ = env(tmp_path, BOUNCE_WEBHOOK_TOKEN="jeton-webhook", CATCHER_PORT="2525",
                  SMTP_URL="smtps://lettre:smtp-pass@relay.example.org:465", MAILOUT_BATCH_SIZE="x")
    settings, problems = read_settings(environ)
    shown = {line.variable: line for line in describe_settings(settings, problems, environ)}
    assert list(shown) == [variable.name for variable in VARIABLES]
    assert shown["SECRET_KEY"].value == "********" and shown["BOUNCE_WEBHOOK_TOKEN"].value == "********"
    assert shown["SMTP_URL"].value == "smtps://lettre:***@relay.example.org:465"
    assert shown["CATCHER_PORT"].value == "2525" and "environment" in shown["CATCHER_PORT"].source
    assert shown["LOG_LEVEL"].value == "INFO" and "default" in shown["LOG_LEVEL"].source
    assert shown["MAILOUT_BATCH_SIZE"].value == "x" and "INVALID" in shown["MAILOUT_BATCH_SIZE"].source
    assert shown["DKIM_DOMAIN"].value == "(non défini / unset)"
    text = "\n".join(f"{line.value} {line.source}" for line in shown.values())
    assert "clé-de-test" not in text and "jeton-webhook" not in text and "smtp-pass" not in text


def test_imap_certificates_are_checked_and_plaintext_refused_unless_asked(tmp_path):
    settings, problems = read_settings(env(tmp_path))
    assert problems == []
    assert (settings.bounce_imap_ca_file, settings.bounce_imap_allow_plaintext, settings.bounce_imap_timeout) == (
        None, False, 30.0)
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    settings, problems = read_settings(env(tmp_path, BOUNCE_IMAP_CA_FILE=str(ca), BOUNCE_IMAP_ALLOW_PLAINTEXT="oui",
                                           BOUNCE_IMAP_TIMEOUT="5"))
    assert problems == []
    assert (settings.bounce_imap_ca_file, settings.bounce_imap_allow_plaintext, settings.bounce_imap_timeout) == (
        ca, True, 5.0)
