"""Logging: one dictConfig for the web app, the workers and the CLI.

Readable text by default; JSON lines with `LOG_FORMAT=json`. Every line carries the context of
the work in hand (`log_context`): a task's name and the issue, batch or event it works on.
"""
from __future__ import annotations

import contextvars
import json
import logging
import logging.config
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

# Read-only: each log_context/bind_context sets a new mapping, none is changed in place.
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "parentalites_log_context", default=MappingProxyType({}))


@contextmanager
def log_context(**values: Any) -> Iterator[None]:
    """Add `values` (task="tasks.mailout.send_batch", issue=12…) to every log line inside."""
    token = _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})
    try:
        yield
    finally:
        _context.reset(token)


def bind_context(**values: Any) -> contextvars.Token:
    """`log_context` for code that cannot use a `with` (Celery's prerun/postrun signals)."""
    return _context.set({**_context.get(), **{k: v for k, v in values.items() if v is not None}})


def reset_context(token: contextvars.Token) -> None:
    _context.reset(token)


def current_context() -> dict[str, Any]:
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Puts the current context on the record: `record.context` (dict) and `record.context_text`."""

    def filter(self, record: logging.LogRecord) -> bool:
        context = dict(_context.get())
        record.context = context
        record.context_text = (" [" + " ".join(f"{k}={v}" for k, v in context.items()) + "]") if context else ""
        return True


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the context, and the exception."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "context", {}),
        }
        if record.exc_info:
            data["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)


def logging_config(log_format: str = "text", level: str = "INFO") -> dict[str, Any]:
    formatter = ({"()": JSONFormatter} if log_format == "json" else
                 {"format": "%(asctime)s %(levelname)s %(name)s%(context_text)s: %(message)s"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}},
        "formatters": {"default": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "default", "filters": ["context"]}},
        "root": {"handlers": ["stderr"], "level": level},
        # Libraries that speak too much at INFO; werkzeug's request lines carry whole URLs, tokens
        # included: the app logs each request's route instead (logger parentalites.access).
        "loggers": {name: {"level": "WARNING"}
                    for name in ("urllib3", "kombu", "amqp", "PIL", "fontTools", "mail.log", "werkzeug")},
    }


def configure_logging(settings: Any) -> None:
    """Apply the one configuration (settings.log_format, settings.log_level)."""
    logging.config.dictConfig(logging_config(getattr(settings, "log_format", "text"),
                                             getattr(settings, "log_level", "INFO")))
