"""One logging configuration: readable text or JSON lines, each line with the work in hand."""
from __future__ import annotations

import json
import logging
from types import SimpleNamespace

import pytest

from core.logging import configure_logging, log_context


@pytest.fixture
def configured(capsys):
    """Apply the project's dictConfig for one test, then put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level

    def configure(log_format: str):
        configure_logging(SimpleNamespace(log_format=log_format, log_level="INFO"))
        return capsys
    yield configure
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_context(configured):
    capsys = configured("json")
    log = logging.getLogger("newsletter.mailout")
    with log_context(task="tasks.mailout.send_batch", issue=12):
        with log_context(batch="a1b2c3d4"):
            log.info("batch sent: %s", 200)
        log.warning("paused")
    log.info("outside")
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(d["message"], d["level"], d["logger"]) for d in lines] == [
        ("batch sent: 200", "INFO", "newsletter.mailout"), ("paused", "WARNING", "newsletter.mailout"),
        ("outside", "INFO", "newsletter.mailout")]
    assert (lines[0]["task"], lines[0]["issue"], lines[0]["batch"]) == ("tasks.mailout.send_batch", 12, "a1b2c3d4")
    assert "batch" not in lines[1] and lines[1]["issue"] == 12
    assert "task" not in lines[2]
    assert lines[0]["time"].endswith("+00:00")


def test_text_lines_are_readable_and_say_the_context(configured):
    capsys = configured("text")
    with log_context(task="tasks.events.reminders", event=7):
        logging.getLogger("events.messages").info("reminder sent to %s", "lea@example.org")
    [line] = capsys.readouterr().err.splitlines()
    assert line.endswith("INFO events.messages [task=tasks.events.reminders event=7]: reminder sent to lea@example.org")


def test_an_exception_is_one_json_object(configured):
    capsys = configured("json")
    try:
        raise ValueError("MJML invalide")
    except ValueError:
        logging.getLogger("newsletter.mailout").exception("issue 3 could not be compiled")
    [line] = capsys.readouterr().err.splitlines()
    data = json.loads(line)
    assert data["message"] == "issue 3 could not be compiled" and "ValueError: MJML invalide" in data["exc_info"]


def test_celery_tasks_bind_their_name_and_subject(configured):
    from parentalites import celery_app
    capsys = configured("json")
    task = SimpleNamespace(name="tasks.mailout.send_batch")
    celery_app._bind_log_context(task_id="t-1", task=task, args=(42,))
    logging.getLogger("mailing.engine").info("claimed")
    celery_app._unbind_log_context(task_id="t-1")
    logging.getLogger("mailing.engine").info("after")
    first, after = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert (first["task"], first["issue"]) == ("tasks.mailout.send_batch", 42)
    assert "task" not in after


def test_no_access_log_writes_whole_urls_with_their_tokens():
    from pathlib import Path

    from core.logging import logging_config
    assert logging_config()["loggers"]["werkzeug"]["level"] == "WARNING"  # the dev server's request lines
    dockerfile = (Path(__file__).resolve().parents[3] / "Dockerfile").read_text()
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD"))
    assert "gunicorn" in cmd and "access-log" not in cmd
