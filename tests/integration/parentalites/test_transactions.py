"""One transaction boundary: a web request commits when its answer is not an error and rolls back
otherwise; a Celery task commits when it returns and rolls back when it raises; either way the
jobs a service enqueued leave only with the COMMIT, and the thread's session is removed."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from contributions.models import Structure, StructureKind
from core import db as database
from core import jobs


def names(db) -> set[str]:
    db.expire_all()
    return set(db.scalars(select(Structure.name)))


def _write(name: str) -> None:
    """What a service does: it adds, flushes, asks for a job, and never commits."""
    db = database.session()
    db.add(Structure(name=name, kind=StructureKind.autre))
    db.flush()
    jobs.enqueue(db, "tasks.test.after_commit", name)


@pytest.fixture
def boundary_app(app):
    """The application with a few routes that write, then answer with the status asked for."""
    def write(status: int):
        _write(f"web-{status}")
        return "", status

    def write_then_fail():
        _write("web-exception")
        raise RuntimeError("the view failed after writing")

    app.add_url_rule("/_test/write/<int:status>", "test_write", write)
    app.add_url_rule("/_test/write-then-fail", "test_write_then_fail", write_then_fail)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a 500 page, as in production
    return app


@pytest.mark.parametrize("status, kept", [(200, True), (202, True), (302, True), (400, False),
                                          (404, False), (422, False)])
def test_a_request_commits_only_when_its_answer_is_not_an_error(boundary_app, db, captured_jobs, status, kept):
    assert boundary_app.test_client().get(f"/_test/write/{status}").status_code == status
    assert (f"web-{status}" in names(db)) is kept
    assert captured_jobs == ([("tasks.test.after_commit", (f"web-{status}",))] if kept else [])
    assert not database.session.registry.has()  # removed at the end of the request


def test_a_view_that_raises_after_writing_keeps_nothing(boundary_app, db, captured_jobs):
    assert boundary_app.test_client().get("/_test/write-then-fail").status_code == 500
    assert "web-exception" not in names(db) and captured_jobs == []
    assert not database.session.registry.has()


@pytest.fixture
def unit_of_work_tasks(db):
    from parentalites.celery_app import UnitOfWorkTask, celery_app

    @celery_app.task(name="tests.transactions.write", shared=False)
    def write(name: str) -> str:
        _write(name)
        return name

    @celery_app.task(name="tests.transactions.write_then_fail", shared=False)
    def write_then_fail(name: str) -> None:
        _write(name)
        raise RuntimeError("the task failed after writing")

    assert isinstance(write, UnitOfWorkTask) and isinstance(write_then_fail, UnitOfWorkTask)
    yield write, write_then_fail
    for name in ("tests.transactions.write", "tests.transactions.write_then_fail"):
        celery_app.tasks.pop(name, None)


def test_a_task_commits_when_it_returns_and_rolls_back_when_it_raises(db, captured_jobs, unit_of_work_tasks):
    write, write_then_fail = unit_of_work_tasks
    assert write("task-ok") == "task-ok"
    assert "task-ok" in names(db)
    assert captured_jobs == [("tasks.test.after_commit", ("task-ok",))]
    assert not database.session.registry.has()

    captured_jobs.clear()
    with pytest.raises(RuntimeError):
        write_then_fail("task-failed")
    assert "task-failed" not in names(db) and captured_jobs == []
    assert not database.session.registry.has()
