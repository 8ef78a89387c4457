"""Transactional e-mails whose text an editor may rewrite (/redaction/modeles).

An override holds a subject and a text body, both Jinja, run in an `ImmutableSandboxedEnvironment`
with `StrictUndefined`, over plain data only: each e-mail declares the variables it offers
(`EDITABLE`), and at send time the real context (accounts, events…) is copied into dicts of those
fields, so a template reaches no object, no method, no attribute of Python. The HTML part is made
from the text (paragraphs, links), inside the e-mails' usual layout.

What a template may do is bounded, so that a saved one can never hang or flood a send:
no `import`, `include`, `extends`, `macro`, `call`, `set`, `with`, recursive loop (refused when the
text is checked); `range` up to `MAX_RANGE` items; `*`, `**` and `%` checked before they run; a
short list of filters; the output capped at `MAX_OUTPUT` characters; the render stopped after
`TIME_LIMIT` seconds (checked at every loop step, call and output chunk). A text is saved only once
it parses, names only known variables and renders with the sample values; and at send time, if an
override fails all the same, the default text is sent and the failure logged.
"""
from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup, escape

from core.formatting import date_range, date_time, long_date, plural

log = logging.getLogger(__name__)

MAX_TEMPLATE = 20_000     # characters of a subject or a body as typed
MAX_OUTPUT = 50_000       # characters a render may produce
MAX_RANGE = 1_000         # items of range()
MAX_SEQUENCE = 10_000     # length of a string or list made by * (and of a number's digits by **)
TIME_LIMIT = 0.5          # seconds of rendering


class TemplateRefused(ValueError):
    """A text that cannot be saved (or that failed at send time); the message says why, in French,
    with the line when there is one."""


# --- The e-mails and their variables --------------------------------------------------------------

# A variable is a plain value, a flag (anything → True/False), or an object of which only the
# listed fields are copied ("status.value" copies a nested one).
Shape = None | str | tuple[str, ...]
FLAG = "flag"


@dataclass(frozen=True)
class EditableEmail:
    name: str
    label: str
    variables: dict[str, Shape]
    sample: dict[str, Any]
    descriptions: dict[str, str] = field(default_factory=dict)


_NOW = datetime(2026, 3, 3, 17, 0, tzinfo=UTC)
_SETTINGS = {"base_url": "https://parentalites.exemple.org", "privacy_contact": "dpo@exemple.org"}
_EVENT_FIELDS = ("title", "starts_at", "ends_at", "place", "address", "online_url", "contact_email",
                 "access_info", "survey_url", "status.value")
_SAMPLE_EVENT = {"title": "Soirée-rencontre du Réaap : les écrans en famille", "starts_at": _NOW,
                 "ends_at": _NOW + timedelta(hours=2), "place": "Centre social Les Tilleuls",
                 "address": "12 rue des Lilas, 93000 Bobigny", "online_url": None,
                 "contact_email": "reaap@exemple.org", "access_info": "Bus 146, arrêt Lilas.",
                 "survey_url": "https://exemple.org/questionnaire", "status": {"value": "scheduled"}}
_REGISTRATION_FIELDS = ("name", "party_size", "status.value")
_SAMPLE_REGISTRATION = {"name": "Zoé Lambert", "party_size": 2, "status": {"value": "confirmed"}}
_PERSON = ("name", "email")
_SAMPLE_USER = {"name": "Amina Benali", "email": "amina@exemple.org"}
_URL = "https://parentalites.exemple.org/lien/exemple"

_DESCRIPTIONS = {
    "settings": "le site : base_url (adresse), privacy_contact (contact données personnelles)",
    "event": "l'événement : title, starts_at, ends_at, place, address, online_url, contact_email, access_info, "
             "survey_url, status.value",
    "registration": "l'inscription : name, party_size (nombre de places), status.value (confirmed, waitlisted)",
    "manage_url": "lien pour gérer son inscription",
    "event_url": "page de l'événement",
    "invitation": "vrai si l'e-mail joint une invitation d'agenda (.ics)",
    "user": "le compte : name, email",
    "subscriber": "l'abonné·e : name, email",
    "url": "le lien à suivre",
    "days": "nombre de jours",
    "minutes": "durée de validité du lien, en minutes",
    "inviter_name": "nom de la personne qui invite (peut être vide)",
    "structure": "la structure : name",
    "contribution": "la contribution : title, status.value (accepted, rejected, changes_requested), kind.value",
    "comment": "le commentaire de la rédaction (peut être vide)",
    "changes": "les retouches de la rédaction, une ligne par champ (liste, peut être vide)",
    "greeting": "« Bonjour Prénom Nom, » (rempli pour chaque destinataire)",
    "unsubscribe_url": "lien de désabonnement",
    "preferences_url": "lien des préférences",
    "confirm_url": "lien de confirmation",
    "reconsent_url": "lien pour rester abonné·e",
    "partner": "le ou la partenaire : name, structure.name",
    "planned": "le numéro prévu : note",
    "deadline": "date limite des contributions",
    "issue_date": "date de parution de la lettre",
    "days_left": "jours restants avant la date limite",
    "new_url": "lien pour proposer une contribution",
    "partner_url": "lien de l'espace partenaire",
    "role_label": "le rôle donné (rédaction, administration)",
}

_EVENT_VARS: dict[str, Shape] = {"settings": ("base_url", "privacy_contact"), "event": _EVENT_FIELDS,
                                 "registration": _REGISTRATION_FIELDS, "manage_url": None, "event_url": None,
                                 "invitation": FLAG}
_EVENT_SAMPLE = {"settings": _SETTINGS, "event": _SAMPLE_EVENT, "registration": _SAMPLE_REGISTRATION,
                 "manage_url": _URL, "event_url": _URL, "invitation": True}


def _event_email(name: str, label: str, **extra: tuple[Shape, Any]) -> EditableEmail:
    return EditableEmail(name, label, {**_EVENT_VARS, **{k: v[0] for k, v in extra.items()}},
                         {**_EVENT_SAMPLE, **{k: v[1] for k, v in extra.items()}})


_SITE: dict[str, Shape] = {"settings": ("base_url", "privacy_contact")}

EDITABLE: dict[str, EditableEmail] = {e.name: e for e in [
    EditableEmail("subscription_confirm", "Abonnement : demande de confirmation",
                  {**_SITE, "subscriber": _PERSON, "confirm_url": None},
                  {"settings": _SETTINGS, "subscriber": _SAMPLE_USER, "confirm_url": _URL}),
    EditableEmail("subscription_welcome", "Abonnement : bienvenue (après un import)",
                  {**_SITE, "greeting": None, "imported": FLAG, "preferences_url": None, "unsubscribe_url": None},
                  {"settings": _SETTINGS, "greeting": "Bonjour Amina Benali,", "imported": True,
                   "preferences_url": _URL, "unsubscribe_url": _URL}),
    EditableEmail("subscription_import_confirm", "Abonnement : demande de confirmation (après un import)",
                  {**_SITE, "greeting": None, "confirm_url": None, "unsubscribe_url": None},
                  {"settings": _SETTINGS, "greeting": "Bonjour Amina Benali,", "confirm_url": _URL,
                   "unsubscribe_url": _URL}),
    EditableEmail("subscription_exists", "Abonnement : adresse déjà abonnée",
                  {**_SITE, "subscriber": _PERSON, "unsubscribe_url": None},
                  {"settings": _SETTINGS, "subscriber": _SAMPLE_USER, "unsubscribe_url": _URL}),
    EditableEmail("subscription_repermission", "Abonnement : demande de renouvellement du consentement",
                  {**_SITE, "subscriber": _PERSON, "grace_days": None, "preferences_url": None,
                   "reconsent_url": None, "retention_years": None, "unsubscribe_url": None},
                  {"settings": _SETTINGS, "subscriber": _SAMPLE_USER, "grace_days": 30, "preferences_url": _URL,
                   "reconsent_url": _URL, "retention_years": 3, "unsubscribe_url": _URL}),
    EditableEmail("moderation_decision", "Contribution : décision de la rédaction",
                  {**_SITE, "contribution": ("title", "status.value", "kind.value"), "comment": None, "changes": None,
                   "url": None},
                  {"settings": _SETTINGS, "contribution": {"title": "Café des parents", "status": {"value": "accepted"},
                                                           "kind": {"value": "actualite"}},
                   "comment": "Merci, elle paraîtra dans la prochaine lettre.",
                   "changes": ["Titre : « Cafe des parents » → « Café des parents »"], "url": _URL}),
    EditableEmail("appel_a_contributions", "Appel à contributions",
                  {**_SITE, "partner": ("name", "structure.name"), "planned": ("note",), "deadline": None,
                   "issue_date": None, "days_left": None, "new_url": None, "partner_url": None},
                  {"settings": _SETTINGS, "partner": {"name": "Amina Benali", "structure": {"name": "Les Tilleuls"}},
                   "planned": {"note": "Numéro spécial rentrée."}, "deadline": date(2026, 3, 10),
                   "issue_date": date(2026, 3, 20), "days_left": 7, "new_url": _URL, "partner_url": _URL}),
    EditableEmail("partner_invitation", "Invitation d'un partenaire",
                  {**_SITE, "user": _PERSON, "structure": ("name",), "inviter_name": None, "url": None, "days": None},
                  {"settings": _SETTINGS, "user": _SAMPLE_USER, "structure": {"name": "Centre social Les Tilleuls"},
                   "inviter_name": "Claire Martin", "url": _URL, "days": 7}),
    EditableEmail("account_invitation", "Invitation à la rédaction",
                  {**_SITE, "user": _PERSON, "role_label": None, "inviter_name": None, "url": None, "days": None},
                  {"settings": _SETTINGS, "user": _SAMPLE_USER, "role_label": "rédaction",
                   "inviter_name": "Claire Martin", "url": _URL, "days": 7}),
    EditableEmail("login_link", "Lien de connexion",
                  {**_SITE, "user": _PERSON, "url": None, "minutes": None},
                  {"settings": _SETTINGS, "user": _SAMPLE_USER, "url": _URL, "minutes": 15}),
    _event_email("event_registration", "Événement : inscription confirmée ou en liste d'attente",
                 again=(FLAG, False)),
    _event_email("event_confirm_address", "Événement : confirmer son adresse"),
    _event_email("event_promoted", "Événement : une place s'est libérée"),
    _event_email("event_reminder", "Événement : rappel", days=(None, 1)),
    _event_email("event_update", "Événement : changement ou report"),
    _event_email("event_cancelled", "Événement : annulation"),
    _event_email("event_registration_cancelled", "Événement : inscription annulée",
                 was_waitlisted=(FLAG, False), by_editor=(FLAG, False)),
    _event_email("event_thanks", "Événement : merci d'être venu·e"),
]}


def describe(name: str) -> str:
    return _DESCRIPTIONS.get(name, "")


# --- Plain data from the real context ------------------------------------------------------------

_PLAIN = (str, int, float, bool, date, datetime, type(None))


def _plain(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, list | tuple):  # a list of lines (the editors' changes): plain values each
        return [_plain(item) for item in value]
    if hasattr(value, "value") and isinstance(value.value, str):  # an enum
        return value.value
    return str(value)


def _read(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _copy_fields(obj: Any, fields: tuple[str, ...]) -> dict | None:
    if obj is None:
        return None
    out: dict[str, Any] = {}
    for path in fields:
        head, _, rest = path.partition(".")
        value = _read(obj, head)
        if rest:
            nested = out.get(head)
            if value is None:
                out[head] = None
            else:
                copied = _copy_fields(value, (rest,)) or {}
                out[head] = {**(nested or {}), **copied}
        else:
            out[head] = _plain(value)
    return out


def plain_context(email: EditableEmail, context: dict) -> dict:
    """The variables the e-mail offers, copied as plain values out of the real context."""
    out: dict[str, Any] = {}
    for name, shape in email.variables.items():
        value = context.get(name)
        if shape == FLAG:
            out[name] = bool(value)
        elif isinstance(shape, tuple):
            out[name] = _copy_fields(value, shape)
        else:
            out[name] = _plain(value)
    return out


# --- The sandbox ---------------------------------------------------------------------------------

_deadline = threading.local()


def _check_time() -> None:
    limit = getattr(_deadline, "at", None)
    if limit is not None and time.monotonic() > limit:
        raise TemplateRefused(f"Le texte met trop de temps à se calculer (plus de {TIME_LIMIT} s) : "
                              "une boucle trop longue ?")


def _bounded_range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise TemplateRefused(f"range() est limité à {MAX_RANGE} éléments.")
    for number in numbers:
        _check_time()
        yield number


def _sized(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple) else 1


class _Sandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, narrowed further: no attribute of any Python object (the
    variables are dicts, read by key), arithmetic that cannot build a huge value, a clock."""

    intercepted_binops = frozenset(["*", "**", "%"])

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def wrap_str_format(self, value: Any) -> None:
        # Jinja hands out str.format (sandboxed) before asking is_safe_attribute; a width like
        # "{:>999999999}" would still build a huge string: no format at all.
        return None

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        _check_time()
        if operator == "**":
            if not (isinstance(left, int | float) and isinstance(right, int | float)) or abs(right) > 64 \
                    or abs(left) > 1_000_000:
                raise TemplateRefused("Puissance refusée (exposant au plus 64, sur des nombres).")
            return left ** right
        if operator == "%":
            if isinstance(left, str):
                raise TemplateRefused("Le formatage « % » de texte n'est pas disponible.")
            return left % right
        if isinstance(left, int) and not isinstance(right, int):
            left, right = right, left
        if isinstance(right, int) and _sized(left) * abs(right) > MAX_SEQUENCE:
            raise TemplateRefused(f"Multiplication refusée : le résultat dépasserait {MAX_SEQUENCE} caractères.")
        result = left * right
        if isinstance(result, int | float) and abs(result) > 10 ** 100:
            raise TemplateRefused("Multiplication refusée : nombre trop grand.")
        return result

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805  (Jinja's signature)
        _check_time()
        return super().call(__context, __obj, *args, **kwargs)


def _bounded_join(value: Any, separator: Any = "") -> str:
    items = [str(item) for item in value]
    separator = str(separator)
    if sum(map(len, items)) + len(separator) * max(len(items) - 1, 0) > MAX_OUTPUT:
        raise TemplateRefused(f"join : le texte produit dépasserait {MAX_OUTPUT} caractères.")
    return separator.join(items)


_FILTERS: dict[str, Callable] = {"long_date": long_date, "date_time": date_time, "date_range": date_range,
                                 "plural": plural, "join": _bounded_join}
_SAFE_JINJA_FILTERS = ("upper", "lower", "capitalize", "title", "trim", "default", "d", "length", "count",
                       "first", "last", "truncate", "striptags", "round", "int", "string", "wordcount",
                       "abs", "list")
# Nodes a text may not hold: they reach other templates, define callables, or grow values in a loop.
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.Import: "import", nodes.FromImport: "from … import", nodes.Include: "include",
    nodes.Extends: "extends", nodes.Macro: "macro", nodes.CallBlock: "call", nodes.Assign: "set",
    nodes.AssignBlock: "set", nodes.With: "with", nodes.Block: "block", nodes.FilterBlock: "filter",
    nodes.Scope: "scope", nodes.ScopedEvalContextModifier: "autoescape",
}


def _environment() -> _Sandbox:
    env = _Sandbox(undefined=jinja2.StrictUndefined, autoescape=False, trim_blocks=True, lstrip_blocks=True,
                   loader=None, cache_size=0)
    env.filters = {**{name: env.filters[name] for name in _SAFE_JINJA_FILTERS}, **_FILTERS}
    env.globals = {"range": _bounded_range}
    return env


_ENV = _environment()


def _line(node: nodes.Node) -> str:
    return f", ligne {node.lineno}" if getattr(node, "lineno", None) else ""


def _syntax_message(exc: jinja2.TemplateSyntaxError, source: str) -> str:
    message = exc.message or ""
    unclosed = re.search(r"innermost block that needs to be closed is '(\w+)'", message)
    if unclosed:
        return f"la balise « {unclosed.group(1)} » n'est pas fermée (il manque {{% end{unclosed.group(1)} %}})"
    lines = source.splitlines()
    line = lines[exc.lineno - 1] if 0 < exc.lineno <= len(lines) else ""
    for keyword in ("import", "include", "extends", "macro"):
        if re.search(r"{%-?\s*(from\s+\S+\s+)?" + keyword + r"\b", line):
            return f"« {keyword} » n'est pas permis dans un modèle d'e-mail"
    if "unexpected '}'" in message or "unexpected end of template" in message.lower():
        return f"balise ou variable mal fermée ({message})"
    return f"erreur de syntaxe ({message})"


def check_source(source: str, allowed: set[str], what: str) -> jinja2.Template:
    """Parse and compile `source`, refusing what the sandbox does not allow and any variable the
    e-mail does not offer; the compiled template, or TemplateRefused saying why and where."""
    if len(source) > MAX_TEMPLATE:
        raise TemplateRefused(f"{what} : texte trop long ({len(source)} caractères ; {MAX_TEMPLATE} au plus).")
    try:
        tree = _ENV.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateRefused(f"{what}, ligne {exc.lineno} : {_syntax_message(exc, source)}.") from None
    for node_type, keyword in _REFUSED_NODES.items():
        for node in tree.find_all(node_type):
            raise TemplateRefused(f"{what}{_line(node)} : « {keyword} » n'est pas permis dans un modèle d'e-mail.")
    for loop in tree.find_all(nodes.For):
        if loop.recursive:
            raise TemplateRefused(f"{what}{_line(loop)} : les boucles récursives ne sont pas permises.")
    bound = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")} | {"loop"}
    for name in tree.find_all(nodes.Name):
        if name.ctx == "load" and name.name not in allowed and name.name not in bound \
                and name.name not in _ENV.globals:
            raise TemplateRefused(f"{what}{_line(name)} : variable inconnue « {name.name} ». "
                                  f"Variables possibles : {', '.join(sorted(allowed))}.")
    for getattr_node in tree.find_all(nodes.Getattr):
        if getattr_node.attr.startswith("_"):
            raise TemplateRefused(f"{what}{_line(getattr_node)} : « {getattr_node.attr} » n'est pas accessible.")
    try:
        return _ENV.from_string(tree)
    except jinja2.TemplateError as exc:  # an unknown filter or test
        line = getattr(exc, "lineno", None)
        unknown = re.search(r"No (filter|test) named '([^']+)'", str(exc))
        message = (f"filtre inconnu « {unknown.group(2)} » (filtres possibles : {', '.join(sorted(_ENV.filters))})"
                   if unknown and unknown.group(1) == "filter" else
                   f"test inconnu « {unknown.group(2)} »" if unknown else str(exc.message))
        raise TemplateRefused(f"{what}{f', ligne {line}' if line else ''} : {message}.") from None


def run(template: jinja2.Template, context: dict, what: str) -> str:
    """Render within the time and size limits; TemplateRefused on any failure."""
    _deadline.at = time.monotonic() + TIME_LIMIT
    size = 0
    chunks: list[str] = []
    try:
        for chunk in template.generate(context):
            _check_time()
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateRefused(f"{what} : le texte produit dépasse {MAX_OUTPUT} caractères.")
            chunks.append(chunk)
    except TemplateRefused as exc:
        raise TemplateRefused(f"{what} : {exc}" if not str(exc).startswith(what) else str(exc)) from None
    except SecurityError as exc:
        attribute = re.search(r"attribute '([^']+)'", str(exc))
        name = f"« {attribute.group(1)} »" if attribute else "cet élément"
        raise TemplateRefused(f"{what}{_traceback_line(exc)} : {name} n'est pas accessible dans un modèle "
                              f"(utilisez un filtre, par exemple |upper).") from None
    except jinja2.UndefinedError as exc:
        raise TemplateRefused(f"{what}{_traceback_line(exc)} : {_undefined_message(exc)}.") from None
    except jinja2.TemplateError as exc:
        raise TemplateRefused(f"{what}{_traceback_line(exc)} : {exc}.") from None
    except (RecursionError, MemoryError):
        raise TemplateRefused(f"{what} : le texte est trop gros à calculer.") from None
    except Exception as exc:  # noqa: BLE001  an error of the text, e.g. 1/0 or "a" + 1
        raise TemplateRefused(f"{what}{_traceback_line(exc)} : erreur au calcul ({exc.__class__.__name__}: "
                              f"{str(exc)[:200]}).") from None
    finally:
        _deadline.at = None
    return "".join(chunks)


def _traceback_line(exc: BaseException) -> str:
    """The template's line of a render error, from Jinja's rewritten traceback."""
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return f", ligne {line}" if line else ""


def _undefined_message(exc: jinja2.UndefinedError) -> str:
    match = re.search(r"'([^']+)' is undefined|has no attribute '([^']+)'", str(exc))
    if match:
        return f"« {match.group(1) or match.group(2)} » n'existe pas dans cet e-mail"
    if "unsafe" in str(exc) or "access to attribute" in str(exc):
        return "cet attribut n'est pas accessible"
    return str(exc)


# --- Rendering an override -----------------------------------------------------------------------

@dataclass(frozen=True)
class RenderedText:
    subject: str
    text: str


def render_text(email: EditableEmail, subject: str, body: str, context: dict) -> RenderedText:
    """Subject and text of an override, with `context` already plain (plain_context or a sample)."""
    allowed = set(email.variables)
    subject_template = check_source(subject, allowed, "Objet")
    body_template = check_source(body, allowed, "Texte")
    rendered_subject = " ".join(run(subject_template, context, "Objet").split())
    if not rendered_subject:
        raise TemplateRefused("Objet : il est vide une fois calculé.")
    text = re.sub(r"\n{3,}", "\n\n", run(body_template, context, "Texte")).strip()
    if not text:
        raise TemplateRefused("Texte : il est vide une fois calculé.")
    return RenderedText(rendered_subject[:300], text + "\n")


_URL_IN_TEXT = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)»]")


def text_to_html(text: str) -> Markup:
    """The HTML body of an override: each paragraph of the text escaped, its links made links."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]
    out = []
    for paragraph in paragraphs:
        escaped = str(escape(paragraph))
        linked = _URL_IN_TEXT.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)
        out.append(linked.replace("\n", "<br>"))
    return Markup("".join(f"<mj-text>{p}</mj-text>" for p in out))


def sample_check(name: str, subject: str, body: str) -> RenderedText:
    """What the editor saves must pass here: parse, known variables, render with the sample."""
    email = EDITABLE[name]
    return render_text(email, subject, body, email.sample)
