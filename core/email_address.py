"""What an address must be for our relay to take it, and why one is refused, in the reader's
language (French first).

`email_validator` explains in English (« The part after the @-sign… »); `email_error_message` maps
its exceptions, by type and by message, to sentences of our catalogue. Internationalised local
parts (josé@…) need SMTPUTF8 (RFC 6531) from every relay on the way; rather than send some and lose
others, they are refused where addresses are entered. An internationalised domain is fine: it is
kept in its ASCII form (xn--…). `checked_address` does all of it, for every form and service that
takes an address (subscription, event registration, partner invitation)."""
from __future__ import annotations

import re
from collections.abc import Callable

from email_validator import EmailNotValidError, EmailUndeliverableError, validate_email
from flask_babel import gettext as _

INTERNATIONAL_LOCAL_PART = (
    "Cette adresse a un accent ou un caractère non latin avant le « @ » (comme josé@exemple.fr) : notre "
    "serveur d'envoi ne peut pas l'atteindre. Indiquez une autre adresse, sans accent avant le « @ ».")


class AddressRefused(ValueError):
    """The address cannot be taken; str() says why, in the reader's language."""


def local_part_problem(raw: str | None) -> str | None:
    """INTERNATIONAL_LOCAL_PART when the part before the last @ is not plain ASCII, else None."""
    local = (raw or "").strip().rpartition("@")[0]
    return None if local.isascii() else INTERNATIONAL_LOCAL_PART


def checked_address(raw: str | None, *, test_environment: bool = False) -> str:
    """The address as the relay will take it (trimmed, domain in ASCII), or AddressRefused.
    `test_environment` accepts the reserved .test domain (our fixtures and demo)."""
    if problem := local_part_problem(raw):
        raise AddressRefused(problem)
    try:
        info = validate_email((raw or "").strip(), check_deliverability=False, test_environment=test_environment)
    except EmailNotValidError as exc:
        raise AddressRefused(email_error_message(exc)) from exc
    return info.ascii_email or info.normalized


# The characters email_validator names at the end of some messages (« …: é, ç. »).
_NAMED_CHARS = re.compile(r":\s*(?P<chars>[^:]{1,80})\.$")

# (test on the English message, French reason), the first that matches wins: most specific first.
_RULES: list[tuple[Callable[[str], bool], Callable[[], str]]] = [
    (lambda m: m.startswith("An email address must have an @-sign")
     or "instead of a regular at-sign" in m,
     lambda: _("il manque le signe @ (une adresse s'écrit comme prenom.nom@exemple.fr).")),
    (lambda m: m.startswith("There must be something before the @-sign"),
     lambda: _("il manque la partie avant le signe @.")),
    (lambda m: m.startswith("There must be something after the @-sign"),
     lambda: _("il manque le nom de domaine après le signe @ (par exemple exemple.fr).")),
    (lambda m: "It should have a period" in m,
     lambda: _("le nom de domaine après le signe @ doit contenir un point (par exemple exemple.fr).")),
    (lambda m: "not within a valid top-level domain" in m,
     lambda: _("le nom de domaine après le signe @ ne se termine pas par une extension connue (.fr, .org…).")),
    (lambda m: "special-use or reserved name" in m,
     lambda: _("ce nom de domaine est réservé : il ne peut pas recevoir d'e-mails.")),
    (lambda m: "two periods in a row" in m,
     lambda: _("une adresse ne peut pas contenir deux points à la suite.")),
    (lambda m: "cannot start with" in m or "cannot end with" in m or "immediately before the @-sign" in m
     or "immediately after the @-sign" in m,
     lambda: _("une adresse ne peut pas commencer ni finir par un point ou un tiret, ni en avoir un "
               "juste avant ou après le signe @.")),
    (lambda m: "period and a hyphen" in m or "two dashes" in m,
     lambda: _("une adresse ne peut pas contenir un point et un tiret côte à côte.")),
    (lambda m: "too long" in m or "so many characters" in m,
     lambda: _("l'adresse est trop longue.")),
    (lambda m: m.startswith("Internationalized characters before the @-sign"),
     lambda: _("les lettres accentuées et les caractères spéciaux ne sont pas acceptés avant le signe @.")),
    (lambda m: "display name" in m or "angle bracket" in m or "anything after the email address" in m,
     lambda: _("indiquez seulement l'adresse, sans nom ni chevrons < >.")),
    (lambda m: "before the @-sign" in m or "in quotes" in m,
     lambda: _("la partie avant le signe @ contient des caractères non autorisés.")),
    (lambda m: "after the @-sign" in m or "After the @-sign" in m,
     lambda: _("le nom de domaine après le signe @ n'est pas valide.")),
]


def email_error_message(exc: EmailNotValidError) -> str:
    """« Adresse e-mail invalide : <why> », translated (the English UI gets its catalogue's words)."""
    message = str(exc).strip()
    if isinstance(exc, EmailUndeliverableError):
        reason = _("ce nom de domaine ne reçoit pas d'e-mails.")
    else:
        reason = next((french() for test, french in _RULES if test(message)),
                      _("vérifiez-la, par exemple prenom.nom@exemple.fr."))
        named = _NAMED_CHARS.search(message)
        if named and "character" in message:
            reason = f"{reason} ({named.group('chars')})"
    return _("Adresse e-mail invalide : %(reason)s", reason=reason)


__all__ = ["AddressRefused", "checked_address", "email_error_message", "local_part_problem"]
