"""Named e-mails: a folder `templates/email/<name>/` holding `subject.txt`, `body.mjml` and
`body.txt` (Warehouse's habit); adding an e-mail means adding a folder. MJML is compiled with
mjml-python; the text part comes from `body.txt`, or from the HTML through inscriptis when there is
no `body.txt`. `render_email` is the one function that turns a folder name and a context into a
message's parts; the letter and invitations compile their MJML through `compile_mjml` too.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from inscriptis import get_text
from mjml import mjml2html
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from core import db as database
from core import site_settings
from core.formatting import install_filters
from core.settings import get_settings
from core.text import markdown_to_text, plain_text, render_markdown, safe_url, strip_controls_in_output
from mailing import editable
from mailing.models import EmailTemplateOverride

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
EMAIL_DIR = TEMPLATES_DIR / "email"


class MJMLError(ValueError):
    """The MJML of an e-mail template did not compile; the message names the template."""


@lru_cache(maxsize=1)
def email_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(EMAIL_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml", "html")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=strip_controls_in_output,
    )
    env.filters["markdown"] = render_markdown
    env.filters["markdown_text"] = markdown_to_text
    env.filters["plain"] = plain_text
    env.filters["safe_url"] = safe_url
    install_filters(env)
    return env


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


def compile_mjml(source: str, template_name: str = "?") -> str:
    try:
        return mjml2html(source, disable_comments=True)
    except Exception as exc:  # mjml-python raises a bare exception type from Rust
        raise MJMLError(f"MJML invalide dans {template_name} : {exc}") from exc


def render_email(name: str, context: dict, db: Session | None = None) -> RenderedEmail:
    """Render the e-mail `name` with `context` into a subject, an HTML and a text part: the
    editors' text when they wrote one (mailing/editable.py), else the folder's files. An editors'
    text that fails here is logged and the default text sent: a saved text never stops a send."""
    # `site`: the effective site settings (network name, logo, colour, footer, publisher…).
    ctx = {"settings": get_settings(), "site": site_settings.current(), **context}
    override = find_override(db, name)
    if override is not None:
        try:
            return render_override(name, override.subject, override.body_text, editable.plain_context(
                editable.EDITABLE[name], ctx))
        except Exception as exc:  # noqa: BLE001  whatever breaks, the e-mail still leaves
            log.warning("modèle d'e-mail %s modifié par la rédaction : %s ; texte par défaut envoyé", name, exc)
    return render_default(name, ctx)


def find_override(db: Session | None, name: str) -> EmailTemplateOverride | None:
    if name not in editable.EDITABLE:
        return None
    db = db or database.session()
    try:
        return db.get(EmailTemplateOverride, name)
    except SQLAlchemyError:  # no database here (a script): the default text
        log.exception("modèles d'e-mail modifiés illisibles ; texte par défaut")
        return None


def render_override(name: str, subject: str, body: str, plain: dict) -> RenderedEmail:
    """An editors' text (subject and text body) with plain variables; the HTML part is the text,
    paragraph by paragraph, in the e-mails' layout. Raises TemplateRefused."""
    text = editable.render_text(editable.EDITABLE[name], subject, body, plain)
    mjml = email_environment().get_template("_layout/editable.mjml").render(
        {"settings": get_settings(), "site": site_settings.current(), "subject": text.subject,
         "paragraphs": editable.text_to_html(text.text)})
    return RenderedEmail(subject=text.subject, html=compile_mjml(mjml, f"{name} (texte de la rédaction)"),
                         text=text.text)


def render_default(name: str, ctx: dict) -> RenderedEmail:
    env = email_environment()
    if "site" not in ctx:  # every layout reads the site's name, logo and colour (render_email gives it)
        ctx = {"site": site_settings.current(), **ctx}
    subject = " ".join(env.get_template(f"{name}/subject.txt").render(ctx).split())
    html = compile_mjml(env.get_template(f"{name}/body.mjml").render(ctx), f"{name}/body.mjml")
    if (EMAIL_DIR / name / "body.txt").exists():
        text = re.sub(r"\n{3,}", "\n\n", env.get_template(f"{name}/body.txt").render(ctx))  # one blank line
    else:
        text = get_text(html)
    return RenderedEmail(subject=subject, html=html, text=text.strip() + "\n")


