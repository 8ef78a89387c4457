"""The fast letter MIME (encoded once per issue) against the standard library, which builds and
parses the same message the slow way."""
from __future__ import annotations

import email
import email.policy
import html as html_module

from hypothesis import given, settings
from hypothesis import strategies as st

from mailing.mime import LetterMIME, build_message, format_recipient

TEXT = ("Bonjour,\n%%greeting%%\n\nUne ligne très longue " + "é" * 200
        + " fin.\nLien : %%unsubscribe_url%%\n\n-- \nFin   \n")
HTML = ("<p>%%greeting%%</p>\n<p>" + "Paragraphe accentué, « guillemets » — tiret. " * 30
        + "</p>\n<a href=\"%%unsubscribe_url%%\">x</a>\n")


def parse(data: bytes):
    return email.message_from_bytes(data, policy=email.policy.default)


def fast(name: str, greeting: str, url: str, text=TEXT, html=HTML) -> bytes:
    letter = LetterMIME(sender="Lettre Parentalités <lettre@parentalites.test>", subject="Lettre n°1 : « Rentrée »",
                        text=text, html=html, static_headers={"List-Id": "Lettre <l.test>",
                                                              "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})
    values = {"greeting": greeting, "unsubscribe_url": url}
    return letter.render(to=format_recipient(name, "zoe@example.org"), message_id="<1@x>",
                         personal_headers={"List-Unsubscribe": f"<{url}>"}, text_values=values,
                         html_values={k: html_module.escape(v, quote=True) for k, v in values.items()})


def slow(name: str, greeting: str, url: str, text=TEXT, html=HTML) -> bytes:
    def fill(source, values):
        return (source.replace("%%greeting%%", values["greeting"])
                .replace("%%unsubscribe_url%%", values["unsubscribe_url"]))

    escaped = {"greeting": html_module.escape(greeting, quote=True),
               "unsubscribe_url": html_module.escape(url, quote=True)}
    return build_message(to=format_recipient(name, "zoe@example.org"), subject="Lettre n°1 : « Rentrée »",
                         text=fill(text, {"greeting": greeting, "unsubscribe_url": url}), html=fill(html, escaped),
                         message_id="<1@x>", sender="Lettre Parentalités <lettre@parentalites.test>",
                         headers={"List-Id": "Lettre <l.test>", "List-Unsubscribe": f"<{url}>",
                                  "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"})


def assert_same_letter(a: bytes, b: bytes) -> None:
    ma, mb = parse(a), parse(b)
    for header in ("From", "To", "Subject", "Message-ID", "List-Id", "List-Unsubscribe", "List-Unsubscribe-Post"):
        assert str(ma[header]).strip() == str(mb[header]).strip(), header
    assert ma.get_content_type() == mb.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in ma.iter_parts()] == ["text/plain", "text/html"]
    for kind in ("plain", "html"):
        pa, pb = ma.get_body((kind,)), mb.get_body((kind,))
        assert pa.get_content_charset() == "utf-8" and pa["Content-Transfer-Encoding"] == "quoted-printable"
        assert pa.get_content() == pb.get_content(), kind


def test_fast_letter_decodes_to_the_same_message_as_the_standard_library():
    args = ("Zoé Müller-Ndiaye", "Bonjour Zoé Müller-Ndiaye,", "https://parentalites.test/desabonnement/AbC_d-9")
    assert_same_letter(fast(*args), slow(*args))


def test_every_line_respects_the_smtp_limits():
    data = fast("Zoé", "Bonjour Zoé,", "https://x.test/d/t")
    lines = data.split(b"\r\n")
    assert all(len(line) <= 998 for line in lines)
    body = data.split(b"\r\n\r\n", 1)[1]
    assert all(len(line) <= 76 for line in body.split(b"\r\n"))  # quoted-printable soft limit
    assert b"\n" not in data.replace(b"\r\n", b"")  # CRLF only
    assert data.decode("ascii")  # 7-bit clean: no 8BITMIME needed


@settings(max_examples=150, deadline=None)
@given(name=st.text(min_size=0, max_size=60).filter(lambda s: "\r" not in s and "\n" not in s),
       line=st.text(min_size=0, max_size=300))
def test_any_name_and_any_text_survive_the_round_trip(name, line):
    text = f"{line}\n%%greeting%%\n{line} %%unsubscribe_url%%  \n"
    html = f"<p>{html_module.escape(line)}</p>\n%%greeting%%\n"
    greeting = f"Bonjour {name},"
    url = "https://parentalites.test/desabonnement/tok"
    got = parse(fast(name.strip() or "", greeting, url, text, html))
    want = parse(slow(name.strip() or "", greeting, url, text, html))
    for kind in ("plain", "html"):
        # The standard library normalises line endings the same way in both.
        assert got.get_body((kind,)).get_content() == want.get_body((kind,)).get_content()


def test_a_line_break_smuggled_into_a_name_cannot_add_a_header():
    data = fast("Zoé\r\nBcc: victim@example.org", "Bonjour,", "https://x.test/d/t")
    message = parse(data)
    assert message["Bcc"] is None and "victim@example.org" in str(message["To"])
    assert b"\r\nBcc:" not in data


def test_slots_inside_a_long_line_are_cut_with_soft_breaks_only():
    long_html = "<div>" + "x" * 5000 + '<a href="%%unsubscribe_url%%">%%greeting%%</a>' + "y" * 5000 + "</div>\n"
    args = ("Zoé", "Bonjour Zoé,", "https://parentalites.test/desabonnement/T0k")
    assert_same_letter(fast(*args, html=long_html), slow(*args, html=long_html))


def test_a_dot_starting_a_line_is_encoded_so_no_dot_stuffing_is_needed():
    text = ".\n.point de départ\n%%greeting%%\n..\n"
    data = fast("Zoé", ".Bonjour", "https://x.test/d/t", text=text)
    assert not data.startswith(b".") and b"\n." not in data
    text_lines = parse(data).get_body(("plain",)).get_content().splitlines()
    assert text_lines[:4] == [".", ".point de départ", ".Bonjour", ".."]


# --- Standards (issue 13, item 29) --------------------------------------------------------------

NUMERIC_DATE = r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$"


def test_date_headers_are_numeric_utc():
    """RFC 5322 prefers a numeric zone: « +0000 », not the obsolete « GMT » (nor « -0000 »)."""
    import re
    outbox = build_message(to="zoe@example.org", subject="s", text="t", html=None, message_id="<1@x>")
    letter = fast("Zoé", "Bonjour Zoé,", "https://parentalites.test/desabonnement/t")
    for raw in (outbox, letter):  # as written on the wire (a parser would normalise it)
        [date] = [line[6:] for line in raw.decode().split("\r\n") if line.startswith("Date: ")]
        assert re.match(NUMERIC_DATE, date), date


def test_transactional_mail_says_it_is_automatic():
    message = parse(build_message(to="zoe@example.org", subject="s", text="t", html=None, message_id="<1@x>"))
    assert message.get_all("Auto-Submitted") == ["auto-generated"]
    given = parse(build_message(to="zoe@example.org", subject="s", text="t", html=None, message_id="<1@x>",
                                headers={"Auto-Submitted": "auto-replied"}))
    assert given.get_all("Auto-Submitted") == ["auto-replied"]
# --- Headers: one function, encoded words decoded before any line break is looked for --------------

INJECTIONS = [
    "Titre =?utf-8?q?=0D=0AReply-To:_pirate@evil.example=0D=0A=0D=0ACorps_pirate?=",
    "Titre =?utf-8?b?DQpSZXBseS1UbzogcGlyYXRlQGV2aWwuZXhhbXBsZQ0KDQpDb3JwcyBwaXJhdGU=?=",
    "Titre\r\nReply-To: pirate@evil.example\r\n\r\nCorps pirate",
    "Titre\nReply-To: pirate@evil.example",
    "Titre =?utf-8?q?=3D=3Futf-8=3Fq=3F=3D0D=3D0AReply-To:_pirate@evil.example=3F=3D?=",  # encoded twice
    "Titre =?iso-8859-1?q?=0AReply-To:_pirate@evil.example?= \x00\x0b\x85",
]


def assert_one_clean_header(data: bytes):
    message = parse(data)
    assert message["Reply-To"] is None, message["Reply-To"]
    assert not any(name.lower() == "reply-to" for name in message)
    subject = str(message["Subject"])
    assert "\r" not in subject and "\n" not in subject and "Titre" in subject
    head = data.split(b"\r\n\r\n", 1)[0]
    assert not [line for line in head.split(b"\r\n") if line.lower().startswith(b"reply-to")]


def test_header_value_decodes_encoded_words_then_folds_every_control():
    from mailing.mime import header_value
    for value in INJECTIONS:
        cleaned = header_value(value)
        assert not any(ord(ch) < 32 or 0x7f <= ord(ch) <= 0x9f for ch in cleaned), repr(cleaned)
        assert "=?" not in cleaned, cleaned
        assert cleaned.startswith("Titre")
    assert header_value("Lettre n°1 : « Rentrée »") == "Lettre n°1 : « Rentrée »"


def test_an_encoded_line_break_in_a_subject_cannot_add_a_header_or_a_body_to_a_single_message():
    for subject in INJECTIONS:
        data = build_message(to="zoe@example.org", subject=subject, text="Le vrai corps.\n", html=None,
                             message_id="<1@x>", headers={"X-Contribution": subject})
        assert_one_clean_header(data)
        assert parse(data).get_body(("plain",)).get_content().rstrip() == "Le vrai corps."


def test_an_encoded_line_break_in_a_subject_cannot_add_a_header_to_a_letter():
    for subject in INJECTIONS:
        letter = LetterMIME(sender="Lettre <lettre@parentalites.test>", subject=subject, text="Corps.\n",
                            html="<p>Corps.</p>", static_headers={"List-Id": subject})
        data = letter.render(to=format_recipient(subject, "zoe@example.org"), message_id="<1@x>",
                             personal_headers={"List-Unsubscribe": f"<https://x.test/{subject}>"},
                             text_values={}, html_values={})
        assert_one_clean_header(data)
