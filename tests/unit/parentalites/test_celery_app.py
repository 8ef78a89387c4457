"""The Celery app's queues and time limits (issue 13, item 17): polling, housekeeping and sending
on separate queues named from CELERY_QUEUE, a soft and a hard time limit on every task, and
`parentalites worker --queues` to start a worker on some of them."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from core import settings as settings_module
from parentalites import bootstrap as bootstrap_module
from parentalites import celery_app as celery_module
from parentalites.cli import main


@pytest.fixture
def queue_base(monkeypatch, tmp_path):
    monkeypatch.setenv("CELERY_QUEUE", "essai-42")
    monkeypatch.setenv("PARENTALITES_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(settings_module, "_settings", None)
    yield "essai-42"
    settings_module.reset_settings()


def test_queues_are_named_from_the_base_name(queue_base):
    app = celery_module.make_celery()
    assert [q.name for q in app.conf.task_queues] == ["essai-42", "essai-42.poll", "essai-42.housekeeping"]
    assert celery_module.queue_names(["poll", "send"]) == ["essai-42.poll", "essai-42"]
    route = app.amqp.router.route
    assert route({}, "tasks.bounces.poll")["queue"].name == "essai-42.poll"
    assert route({}, "tasks.feeds.poll_structure")["queue"].name == "essai-42.poll"
    assert route({}, "tasks.mailout.send_batch")["queue"].name == "essai-42"
    assert route({}, "tasks.mail.send_outbound")["queue"].name == "essai-42"
    assert route({}, "tasks.mail.sweep_outbox")["queue"].name == "essai-42.housekeeping"
    assert route({}, "tasks.events.reminders")["queue"].name == "essai-42.housekeeping"


def test_every_task_has_a_family_and_both_time_limits():
    app = celery_module.celery_app
    app.loader.import_default_modules()
    ours = sorted(name for name in app.tasks if name.startswith("tasks."))
    assert ours and set(ours) == set(celery_module.TASK_FAMILIES)
    for name in ours:
        task = app.tasks[name]
        assert task.soft_time_limit and task.time_limit and task.soft_time_limit < task.time_limit, name
    assert app.conf.task_soft_time_limit < app.conf.task_time_limit  # a task added without a family
    # Polling can never take longer than the mail-out waits for a stalled batch.
    assert app.tasks["tasks.mailout.send_batch"].time_limit <= 300


def test_worker_queues_option(monkeypatch, tmp_path):
    started: list[list[str]] = []
    monkeypatch.setattr(celery_module.celery_app, "worker_main", lambda argv: started.append(argv))
    monkeypatch.setattr(bootstrap_module, "_done", True)
    result = CliRunner().invoke(main, ["worker", "--queues", "poll,housekeeping"])
    assert result.exit_code == 0, result.output
    base = settings_module.get_settings().celery_queue
    assert f"--queues={base}.poll,{base}.housekeeping" in started[-1]
    result = CliRunner().invoke(main, ["worker"])
    assert not any(arg.startswith("--queues") for arg in started[-1])  # all queues by default
    result = CliRunner().invoke(main, ["worker", "--queues", "poll,courrier"])
    assert result.exit_code != 0 and "courrier" in result.output and "send, poll, housekeeping" in result.output


def test_beat_runs_the_retention_rules_daily():
    from parentalites.celery_app import celery_app
    entry = celery_app.conf.beat_schedule["retention-purge"]
    assert entry == {"task": "tasks.retention.purge", "schedule": 24 * 3600.0}
    celery_app.loader.import_default_modules()
    assert "tasks.retention.purge" in celery_app.tasks
