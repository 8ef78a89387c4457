"""Absolute URLs that leave the site in e-mails and feeds. Built from BASE_URL without a request,
so workers and the CLI produce the same links as the web app (the routes are in the views)."""
from __future__ import annotations

from core.settings import get_settings


def absolute(path: str) -> str:
    return get_settings().base_url + path


def confirm_path(token: str) -> str:
    return f"/abonnement/confirmer/{token}"


def import_confirm_path(token: str) -> str:
    """The confirmation link of someone an import brought in (their personal token; a GET shows a
    button, the POST confirms)."""
    return f"/abonnement/valider/{token}"


# The query parameter of an unsubscribe link that names the delivery (the letter) it came with.
UNSUBSCRIBE_DELIVERY_PARAM = "envoi"


def unsubscribe_path(token: str, delivery_id: int | None = None) -> str:
    """The subscriber's unsubscribe page; from a letter, it names that letter's delivery."""
    path = f"/desabonnement/{token}"
    return path if delivery_id is None else f"{path}?{UNSUBSCRIBE_DELIVERY_PARAM}={delivery_id}"


def letter_path(numero: int) -> str:
    return f"/lettres/{numero}/"


def preferences_path(token: str) -> str:
    return f"/preferences/{token}"
