"""The settings only mailing can judge, checked at start by the bootstrap (core cannot import
mailing): SMTP_URL, SMTP_RELAYS, DOMAIN_CAPS and the DKIM variables, read by the very parsers the
sending path uses, so that a bad value stops the process instead of the first send."""
from __future__ import annotations

from collections.abc import Callable

from core.settings import InvalidSetting, Settings
from mailing.dkim import signer_from_settings
from mailing.smtp import parse_smtp_url
from mailing.throttle import parse_domain_caps, parse_relays


def _smtp_url(settings: Settings) -> None:
    parse_smtp_url(settings.smtp_url)


def _relays(settings: Settings) -> None:
    if settings.smtp_relays is not None:  # unset: SMTP_URL alone, checked above
        parse_relays(settings.smtp_relays, settings.smtp_url)


def _domain_caps(settings: Settings) -> None:
    parse_domain_caps(settings.domain_caps)


def _dkim(settings: Settings) -> None:
    signer_from_settings(settings)  # loads the key: a bad one fails here


CHECKS: tuple[Callable[[Settings], None], ...] = (_smtp_url, _relays, _domain_caps, _dkim)


def settings_problems(settings: Settings) -> list[InvalidSetting]:
    """Every mailing variable with a bad value, each an InvalidSetting that names it."""
    problems = []
    for check in CHECKS:
        try:
            check(settings)
        except InvalidSetting as problem:
            problems.append(problem)
    return problems
