"""Named e-mails: a folder `templates/email/<name>/` holding `subject.txt`, `body.mjml` and
`body.txt` (Warehouse's habit); adding an e-mail means adding a folder. MJML is compiled with
mjml-python; the text part comes from `body.txt`, or from the HTML through inscriptis when there is
no `body.txt`. `render_email` is the one function that turns a folder name and a context into a
message's parts; the letter and invitations compile their MJML through `compile_mjml` too.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
from inscriptis import get_text
from mjml import mjml2html

from core import site_settings
from core.formatting import install_filters
from core.settings import get_settings
from core.text import markdown_to_text, plain_text, render_markdown, safe_url, strip_controls_in_output

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


def render_email(name: str, context: dict) -> RenderedEmail:
    """Render the e-mail `name` with `context` into a subject, an HTML and a text part."""
    env = email_environment()
    # `site`: the effective site settings (network name, logo, colour, footer, publisher…).
    ctx = {"settings": get_settings(), "site": site_settings.current(), **context}
    subject = " ".join(env.get_template(f"{name}/subject.txt").render(ctx).split())
    html = compile_mjml(env.get_template(f"{name}/body.mjml").render(ctx), f"{name}/body.mjml")
    if (EMAIL_DIR / name / "body.txt").exists():
        text = re.sub(r"\n{3,}", "\n\n", env.get_template(f"{name}/body.txt").render(ctx))  # one blank line
    else:
        text = get_text(html)
    return RenderedEmail(subject=subject, html=html, text=text.strip() + "\n")


