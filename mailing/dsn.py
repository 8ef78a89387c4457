"""Bounce reports: classify a returned message (a DSN, an ARF complaint, an auto-reply, a
non-standard notice) with `flufl.bounce` and the DSN status codes. Pure parsing: what a bounce does
to a subscriber is the subscribers' policy (subscribers/bounces.py)."""
from __future__ import annotations

import email
import email.header
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from core.settings import get_settings
from mailing.verp import VERP_PREFIX, VERP_RE, parse_verp

log = logging.getLogger(__name__)

@dataclass
class BounceReport:
    kind: str                                    # one of BounceKind's values
    recipients: set[str] = field(default_factory=set)  # lower-case addresses named by the report
    delivery_id: int | None = None               # from a verified VERP address
    status: str | None = None                    # enhanced status code, e.g. "5.1.1"
    diagnostic: str | None = None

    @property
    def is_failure(self) -> bool:
        return self.kind in ("hard", "soft")


ENVELOPE_HEADERS = ("To", "Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To",
                    "X-Original-Recipient", "Return-Path")
STATUS_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
# In free text, only a status that stands where MTAs write one ("550 5.1.1", "#5.1.1", "Status:
# 5.1.1"): a bare 5.3.0 is as likely a software version.
TEXT_STATUS_RE = re.compile(r"(?:\b[45]\d\d[ -]|#|status:?\s*)([45])\.(\d{1,3})\.(\d{1,3})\b", re.IGNORECASE)
SMTP_CODE_RE = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[\"(:<]))([45][0-5]\d)(?=[ -])", re.MULTILINE)
ADDRESS_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)

# What the diagnostic says, when the status code does not say enough.
HARD_TEXT = re.compile("|".join([
    r"(?:user(?:name)?|addressee|mailbox|recipient) unknown", r"unknown user",
    r"no such (?:user|mailbox|recipient|address|domain)",
    r"does(?: not|n'?t) exist", r"not exist", r"unknown (?:recipient|address|local.part|mailbox)",
    r"recipient (?:address )?rejected", r"invalid (?:recipient|address|mailbox)",
    r"user not found", r"mailbox not found", r"address not found", r"no mailbox", r"mailbox unavailable",
    r"account (?:is |has been )?(?:disabled|deactivated|closed|suspended)", r"no account",
    r"user (?:account )?(?:is )?(?:disabled|deactivated|inactive)", r"host unknown", r"unknown host",
    r"host not found", r"domain (?:not found|does not exist|unknown)", r"name ?server error",
    r"unrouteable address", r"no route to host", r"bad destination mailbox", r"no match(?:es)? to nameserver",
    r"not (?:a )?(?:valid|known|recognized|our customer)", r"name is not recognized",
    r"utilisateur (?:inconnu|non recens)", r"adresse (?:inconnue|invalide)",
    r"unbekannt", r"nicht vorhanden", r"nieznany", r"nie istnieje",
]), re.IGNORECASE)
SOFT_TEXT = re.compile("|".join([
    r"quota", r"mailbox (?:is )?full", r"mailbox size", r"storage", r"over ?quota", r"disk full",
    r"insufficient", r"too large", r"too big", r"size (?:limit|exceed)", r"exceeds? (?:the )?maximum",
    r"exceeds? (?:the )?(?:allowed|maximum|size)", r"message size", r"\bspam\b", r"unsolicited", r"\bjunk\b",
    r"blocked", r"black ?list", r"block ?list", r"policy", r"rejected (?:for|as|due)",
    r"content (?:rejected|filter)", r"virus", r"too many hops", r"looping", r"mail loop", r"try again later",
    r"temporar", r"too many (?:messages|mails)", r"zu ?viele mails", r"boîte (?:aux lettres )?pleine",
    r"überschritten", r"voll\b",
]), re.IGNORECASE)
# Challenge-response systems answer with a bounce-like message that asks the sender to prove
# they are human: the address exists, this is an auto-reply.
CHALLENGE_TEXT = re.compile("|".join([
    r"requires\s+confirmation", r"white\s?list", r"allowed\s+list", r"guest\s+list", r"approved\s+senders",
    r"waitlisted", r"challenge.response",
]), re.IGNORECASE)
SPAM_TEXT = re.compile(r"\bspam\b|unsolicited|\bjunk\b|black\s?list|block\s?list", re.IGNORECASE)
AUTOREPLY_SUBJECT = re.compile("|".join([
    r"out of (?:the )?office", r"automatic reply", r"auto(?:matic)?[ -]?(?:response|reply)", r"^\s*auto:",
    r"autoreply", r"vacation", r"away from", r"r[ée]ponse automatique", r"absen(?:t|ce)", r"abwesen",
    r"automatische antwort", r"automatyczna", r"risposta automatica", r"respuesta autom",
    r"thank you for your e-?mail", r"congés",
]), re.IGNORECASE)
BOUNCE_SUBJECT = re.compile("|".join([
    r"undeliver", r"undelivered", r"delivery (?:status|fail|notification|report|problem)",
    r"returned mail", r"failure notice", r"mail delivery fail", r"non.?delivery", r"could not be delivered",
    r"delivery has failed", r"mail system error", r"failed mail", r"returning message",
    r"non remis", r"unzustellbar", r"niedoręczon",
]), re.IGNORECASE)
DAEMON_FROM = re.compile(r"mailer-daemon|postmaster|mail delivery|mailerdaemon", re.IGNORECASE)

# Where a heuristic notification stops and the returned message starts.
ORIGINAL_MARKERS = re.compile(
    r"^[-\s*]*(?:original message|this is a copy of the message|the header of the original message|"
    r"below (?:this|the next) line is a copy|undelivered message|unsent message|returned message|"
    r"original message follows|(?:start of )?(?:returned|original) message)"
    r"|^(?:Received|Return-Path|Message-ID|Content-Type: message/rfc822)\b", re.IGNORECASE | re.MULTILINE)
FAILED_INTRO = re.compile(
    r"(?:following (?:address(?:es|\(es\))?|recipients?)[^\n]*?(?:failed|aborted|could not)[^\n]*|"
    r"recipients? was aborted[^\n]*|could not be delivered to[^\n]*|delivery to the following[^\n]*)",
    re.IGNORECASE)


def _parse(message_bytes: bytes) -> Message:
    # compat32: the policy flufl.bounce's detectors are written against.
    return email.message_from_bytes(message_bytes)


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    try:
        return str(email.header.make_header(email.header.decode_header(str(value))))
    except Exception:  # noqa: BLE001  a badly encoded header is read as it is
        return str(value)


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if payload is None:
        text = part.get_payload()
        return text if isinstance(text, str) else ""
    assert isinstance(payload, bytes)  # decode=True: the decoded bytes, or None for a multipart
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("latin-1", "replace")


def _find_delivery_id(msg: Message, message_bytes: bytes) -> int | None:
    for name in ENVELOPE_HEADERS:
        for value in msg.get_all(name, []):
            found = parse_verp(str(value))
            if found is not None:
                return found
    # The returned original, a DSN's X-Postfix-Sender, a quoted transcript: anywhere it verifies.
    for match in VERP_RE.finditer(message_bytes.decode("latin-1")):
        found = parse_verp(match.group(0))
        if found is not None:
            return found
    return None


def normalise_status(raw: str, pattern: re.Pattern = STATUS_RE) -> str | None:
    match = pattern.search(raw or "")
    return ".".join(match.groups()) if match else None


def _text_status(text: str) -> str | None:
    return normalise_status(text, TEXT_STATUS_RE)


def _best_status(status: str | None, diagnostic: str) -> str | None:
    """The DSN Status field, unless it is a vague x.0.0 and the diagnostic is more precise."""
    precise = _text_status(diagnostic)
    if status is None:
        return precise
    if status.endswith(".0.0") and precise and precise[0] == status[0] and not precise.endswith(".0.0"):
        return precise
    return status


def _kind_for(status: str | None, diagnostic: str, smtp_code: str | None = None) -> str:
    """Hard or soft, from the enhanced status code first, the diagnostic text where the code is
    vague (x.y.0 "other", protocol x.5.x, policy x.7.x), the basic SMTP code last. A final failure that
    says nothing at all is hard: the remote server gave up on the address."""
    text_kind = "hard" if HARD_TEXT.search(diagnostic) else "soft" if SOFT_TEXT.search(diagnostic) else None
    if status:
        klass, subject, detail = (int(x) for x in status.split("."))
        if klass == 4:
            return "soft"
        # Vague codes (x.y.0 "other", protocol x.5.x, policy x.7.x): the text decides if it can.
        if detail == 0 or subject in (5, 7):
            return text_kind or ("soft" if subject in (3, 4, 6, 7) else "hard")
        specific = {
            (1, None): "hard",              # x.1.* bad mailbox, bad domain, bad syntax, moved
            (2, 1): "hard",                 # mailbox disabled
            (2, None): "soft",              # mailbox full, message too long for it, list expansion
            (3, None): "soft",              # mail system full, not accepting, message too big
            (4, 4): "hard",                 # unable to route: no such domain
            (4, None): "soft",              # network and routing trouble
            (6, None): "soft",              # content
        }
        return specific.get((subject, detail)) or specific.get((subject, None)) or text_kind or "hard"
    if text_kind:
        return text_kind
    if smtp_code and (smtp_code.startswith("4") or smtp_code == "552"):  # 552: storage exceeded
        return "soft"
    return "hard"


def _dsn_blocks(msg: Message) -> list[dict[str, str]]:
    """Per-recipient blocks of every message/delivery-status part."""
    blocks = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, str):  # some parsers leave it as text: parse the header blocks
            payload = [email.message_from_string(chunk) for chunk in re.split(r"\n\s*\n", payload) if chunk.strip()]
        for block in payload or []:
            assert isinstance(block, Message)  # the parser makes each header block a Message
            action = str(block.get("Action", "")).strip().lower()
            if not action:
                continue
            recipient = ""
            for name in ("Original-Recipient", "Final-Recipient", "X-Actual-Recipient"):
                value = str(block.get(name, ""))
                if value:
                    recipient = value.split(";", 1)[-1].strip().strip("<>")
                    if "@" in recipient:
                        break
            diagnostic = " ".join(str(block.get("Diagnostic-Code", "")).split())
            if ";" in diagnostic:
                diagnostic = diagnostic.split(";", 1)[1].strip()
            blocks.append({"action": action, "status": normalise_status(str(block.get("Status", ""))) or "",
                           "recipient": parseaddr(recipient)[1].lower() if recipient else "",
                           "diagnostic": diagnostic})
    return blocks


def _notification_text(msg: Message) -> str:
    """The human-readable notice of a bounce, without the returned original when it is inline."""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            text = _text(part)
            marker = ORIGINAL_MARKERS.search(text)
            return text[:marker.start()] if marker else text
        if part.get_content_maintype() == "message":
            break  # the returned original comes after the notice
    return ""


def _own_address(address: str) -> bool:
    local = address.rpartition("@")[0]
    return (address == get_settings().mail_from_address.lower() or local.startswith(VERP_PREFIX + "+")
            or local in ("postmaster", "mailer-daemon"))


def _addresses_after_intro(text: str) -> set[str]:
    """Addresses listed after an 'the following addresses failed' line (exim and its kind),
    for the notices flufl.bounce's detectors miss."""
    found: set[str] = set()
    for intro in FAILED_INTRO.finditer(text):
        tail = text[intro.end():intro.end() + 600]
        for line in tail.splitlines()[:8]:
            for address in ADDRESS_RE.findall(line):
                address = address.strip(".'\"<>").lower()
                if not _own_address(address):
                    found.add(address)
            if found and not line.strip():
                break
    return found


def _looks_like_bounce(msg: Message) -> bool:
    return bool(BOUNCE_SUBJECT.search(_header(msg, "Subject")) or DAEMON_FROM.search(_header(msg, "From")))


def _is_autoreply(msg: Message) -> bool:
    auto = _header(msg, "Auto-Submitted").strip().lower()
    if auto and auto != "no":
        return True
    if any(msg.get(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Vacation")):
        return True
    if _header(msg, "Precedence").strip().lower() == "auto_reply":
        return True
    return bool(AUTOREPLY_SUBJECT.search(_header(msg, "Subject")))


def _is_challenge(text: str) -> bool:
    return bool(CHALLENGE_TEXT.search(text)) and not SPAM_TEXT.search(text) and not HARD_TEXT.search(text)


def _complaint(msg: Message, delivery_id: int | None) -> BounceReport | None:
    """An ARF (RFC 5965) feedback report, or None if the message is not one."""
    report: Message | None = None
    original: Message | None = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                assert isinstance(payload[0], Message)  # a message/* part's payload: a list of Message
                report = payload[0]
            elif isinstance(payload, str):
                report = email.message_from_string(payload.lstrip("\r\n"))
        elif ctype in ("message/rfc822", "text/rfc822-headers") and report is not None and original is None:
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                assert isinstance(payload[0], Message)
                original = payload[0]
            elif isinstance(payload, str):
                original = email.message_from_string(payload)
    if report is None:
        return None
    feedback_type = str(report.get("Feedback-Type", "")).strip().lower()
    if feedback_type == "not-spam":
        return BounceReport("unknown", delivery_id=delivery_id, diagnostic="ARF not-spam report")
    recipients = {parseaddr(str(v))[1].lower() for v in report.get_all("Original-Rcpt-To", []) if "@" in str(v)}
    if not recipients and original is not None:
        recipients = {a.lower() for _, a in getaddresses([str(v) for v in original.get_all("To", [])]) if "@" in a}
    return BounceReport("complaint", recipients, delivery_id, None,
                        f"ARF {feedback_type or 'abuse'}: {str(report.get('User-Agent', '')).strip()}".strip(": "))


def classify(message_bytes: bytes) -> BounceReport:
    """What a message received at the bounce address says: see BounceReport and BounceKind."""
    msg = _parse(message_bytes)
    delivery_id = _find_delivery_id(msg, message_bytes)

    complaint = _complaint(msg, delivery_id)
    if complaint is not None:
        return complaint

    blocks = _dsn_blocks(msg)
    failed = [b for b in blocks if b["action"].startswith(("fail", "error"))]
    delayed = [b for b in blocks if b["action"].startswith("delayed")]
    try:
        found_temporary, found_permanent = all_failures(msg)
    except Exception:  # noqa: BLE001  a detector choking on a malformed message is not fatal
        log.warning("flufl.bounce could not read a message", exc_info=True)
        found_temporary, found_permanent = frozenset(), frozenset()
    temporary, permanent = _decoded(found_temporary), _decoded(found_permanent)
    notice = _notification_text(msg)

    if failed:
        recipients = {b["recipient"] for b in failed if b["recipient"]} | permanent
        diagnostic = "; ".join(dict.fromkeys(b["diagnostic"] for b in failed if b["diagnostic"])) or None
        text = " ".join(filter(None, [diagnostic, notice]))
        statuses = [_best_status(b["status"] or None, b["diagnostic"]) for b in failed]
        status = next((s for s in statuses if s and s[0] == "5"), None) or next((s for s in statuses if s), None)
        if _is_challenge(text):
            return BounceReport("autoreply", recipients, delivery_id, status, diagnostic)
        return BounceReport(_kind_for(status, text), recipients, delivery_id, status,
                            diagnostic or _excerpt(notice))

    if permanent or (not delayed and not temporary and _looks_like_bounce(msg)):
        recipients = permanent or _addresses_after_intro(notice)
        if recipients:
            status = _text_status(notice)
            smtp = SMTP_CODE_RE.search(notice)
            if _is_challenge(notice):
                return BounceReport("autoreply", recipients, delivery_id, None, _excerpt(notice))
            return BounceReport(_kind_for(status, notice, smtp.group(1) if smtp else None), recipients,
                                delivery_id, status, _excerpt(notice))

    if delayed or temporary:
        recipients = {b["recipient"] for b in delayed if b["recipient"]} | temporary
        status = next((b["status"] for b in delayed if b["status"]), None)
        diagnostic = next((b["diagnostic"] for b in delayed if b["diagnostic"]), None)
        return BounceReport("delayed", recipients, delivery_id, status, diagnostic or _excerpt(notice))

    if _is_autoreply(msg) or _is_challenge(notice):
        return BounceReport("autoreply", set(), delivery_id, None, _header(msg, "Subject")[:300] or None)
    return BounceReport("unknown", set(), delivery_id, None, _header(msg, "Subject")[:300] or None)


def _decoded(addresses: Iterable[bytes]) -> set[str]:
    return {a.decode("ascii", "replace").lower() for a in addresses}


def _excerpt(text: str, limit: int = 500) -> str | None:
    text = " ".join(text.split())
    return text[:limit] or None
