"""Bounce reports: classify a returned message (a DSN, an ARF complaint, an auto-reply, a
non-standard notice) with `flufl.bounce` and the DSN status codes. Pure parsing: what a bounce does
to a subscriber is the subscribers' policy (subscribers/bounces.py)."""
from __future__ import annotations

import email
import email.header
import itertools
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr

from flufl.bounce import all_failures

from core import site_settings
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
    rule: str | None = None                      # which rule decided the kind (RULES)

    @property
    def is_failure(self) -> bool:
        return self.kind in ("hard", "soft")


# Every parse is bounded: only the head of a message is read (its first MAX_PARSE_BYTES bytes, runs
# of blank lines shortened to one, then the first MAX_PARSE_LINES lines). A notice, its
# delivery-status part and the headers of the returned original come first; what a hostile sender
# adds after them is never looked at.
MAX_PARSE_BYTES = 64 * 1024
MAX_PARSE_LINES = 1000
MAX_INTROS = 10  # "the following addresses failed" lines read per notice
MAX_LINE_BYTES = 998  # RFC 5322's limit: what a line holds beyond it is dropped before parsing
BLANK_RUN = re.compile(rb"\n(?:[ \t]*\r?\n){2,}")  # linear: every repetition ends at its own newline
LONG_LINE = re.compile(rb"([^\n]{%d})[^\n]+" % MAX_LINE_BYTES)  # linear: one pass, no nested quantifier

# The rules that can decide a report's kind, as stored on the Bounce row (subscribers.models).
RULES = {
    "arf": "ARF feedback report (complaint)",
    "arf-not-spam": "ARF not-spam report",
    "ses-json": "Amazon SES / SNS notification (bounceType / notificationType)",
    "status-4xx": "the remote server answered with a temporary (4.x.x / 4xx) code",
    "text-mailbox-full": "the reason says the mailbox is full or over quota",
    "text-policy": "the reason is the provider's policy or spam filter, not the address",
    "status-code": "the enhanced status code",
    "text-unknown-user": "the reason says the address does not exist",
    "text-soft": "the reason says the failure is temporary or about the message",
    "final-failure": "a final failure that gives no reason",
    "challenge": "challenge-response (the address exists)",
    "delayed": "delay warning (still being retried)",
    "autoreply": "auto-reply",
    "not-a-bounce": "nothing in the message says a delivery failed",
    "webhook": "the type given by the sending service's webhook",
}

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
    r"recipientnotfound", r"wasn'?t found at", r"mailbox not available",
    r"(?:does not|doesn'?t) have an? (?:[\w.-]+ )?account",
]), re.IGNORECASE)
# Evidence that the mailbox exists but is full, whatever the code around it says.
FULL_TEXT = re.compile("|".join([
    r"quota", r"mailbox (?:is )?full", r"mailbox size", r"disk full", r"insufficient (?:system )?storage",
    r"storage (?:limit|space|allocation)", r"boîte (?:aux lettres )?pleine", r"\bvoll\b", r"full mailbox",
    r"mailbox (?:has )?exceeded",
]), re.IGNORECASE)
# A provider's own policy or spam verdict: it judges the message or the sender, not the address.
POLICY_TEXT = re.compile("|".join([
    r"\bspam\b", r"unsolicited", r"\bjunk\b", r"black ?list", r"block ?list", r"\bblocked\b",
    r"\bpolicy\b", r"policies", r"reputation", r"\b(?:dmarc|spf|dkim)\b", r"\brbl\b", r"spamhaus",
    r"not accepted for policy", r"content (?:rejected|filter)", r"rejected (?:for|as|due)",
    r"message rejected", r"mail rejected", r"mail rejet", r"\bofr_\d+", r"\bdenylist",
    r"suspicious", r"virus", r"bulk mail", r"temporarily (?:deferred|blocked)", r"rate ?limit",
]), re.IGNORECASE)
# Greylisting: a temporary refusal by design.
GREYLIST_TEXT = re.compile(r"grey ?list|gray ?list|greylisted|try again later|please retry", re.IGNORECASE)
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
    r"^[- \t*]{0,80}(?:original message|this is a copy of the message|the header of the original message|"
    r"below (?:this|the next) line is a copy|undelivered message|unsent message|returned message|"
    r"original message follows|(?:start of )?(?:returned|original) message)"
    r"|^(?:Received|Return-Path|Message-ID|Content-Type: message/rfc822)\b", re.IGNORECASE | re.MULTILINE)
FAILED_INTRO = re.compile(
    r"(?:following (?:address(?:es|\(es\))?|recipients?)[^\n]{0,200}?(?:failed|aborted|could not)[^\n]{0,200}|"
    r"recipients? was aborted[^\n]{0,200}|could not be delivered to[^\n]{0,200}|"
    r"delivery to the following[^\n]{0,200}|delivery has failed to these recipients[^\n]{0,200}|"
    r"unable to deliver your message to the following address[^\n]{0,200}|"
    r"your message to\b(?=[^\n]{0,300}couldn'?t be delivered))",
    re.IGNORECASE)
# The reply a remote server gave, as a notice quotes it ("Remote host said: 550 ...", "Remote Server
# returned '550 5.1.10 ...'").
SMTP_REPLY_RE = re.compile(r"(?<![\d.])([245])\d\d[ -](?:([245])\.\d{1,3}\.\d{1,3}\b)?")


def bounded(message_bytes: bytes) -> bytes:
    """The part of a message that is parsed: its first MAX_PARSE_BYTES bytes, each run of blank
    lines made one blank line, each line cut at MAX_LINE_BYTES, cut after MAX_PARSE_LINES lines."""
    head = LONG_LINE.sub(rb"\1", BLANK_RUN.sub(b"\n\n", message_bytes[:MAX_PARSE_BYTES]))
    lines = head.split(b"\n", MAX_PARSE_LINES)
    if len(lines) > MAX_PARSE_LINES:
        head = b"\n".join(lines[:MAX_PARSE_LINES]) + b"\n"
    return head


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


def _temporary_reply(diagnostic: str) -> bool:
    """The remote server's own words were a temporary refusal: every enhanced code quoted in the
    reason is 4.x.x, or it says it is greylisting. Not proof that the address is dead."""
    if GREYLIST_TEXT.search(diagnostic):
        return True
    classes = {match.group(1) for match in TEXT_STATUS_RE.finditer(diagnostic)}
    return classes == {"4"}


def _kind_for(status: str | None, diagnostic: str, smtp_code: str | None = None) -> tuple[str, str]:
    """Hard or soft, on evidence, and the rule (RULES) that decided. In order: a temporary answer
    (4.x.x status, or only 4.x.x codes or greylisting in the reason) is soft; a full mailbox is soft
    whatever code wraps it; a provider's policy or spam verdict is soft unless the status is a
    specific address status (x.1.x, x.2.1); then the specific status code; then the reason text;
    a final failure that says nothing at all is hard (the remote server gave up on the address)."""
    if (status and status[0] == "4") or _temporary_reply(diagnostic):
        return "soft", "status-4xx"
    if not status and smtp_code and smtp_code.startswith("4"):
        return "soft", "status-4xx"
    if FULL_TEXT.search(diagnostic):
        return "soft", "text-mailbox-full"
    hard_text = bool(HARD_TEXT.search(diagnostic))
    soft_text = bool(SOFT_TEXT.search(diagnostic))
    if status:
        klass, subject, detail = (int(x) for x in status.split("."))
        address_status = (subject == 1 and detail != 0) or (subject, detail) == (2, 1)
        if not address_status and POLICY_TEXT.search(diagnostic):
            return "soft", "text-policy"
        # Vague codes (x.y.0 "other", protocol x.5.x, policy x.7.x): the text decides if it can.
        if detail == 0 or subject in (5, 7):
            if hard_text:
                return "hard", "text-unknown-user"
            if soft_text:
                return "soft", "text-soft"
            return ("soft" if subject in (3, 4, 6, 7) else "hard"), "status-code"
        specific = {
            (1, None): "hard",              # x.1.* bad mailbox, bad domain, bad syntax, moved
            (2, 1): "hard",                 # mailbox disabled
            (2, None): "soft",              # mailbox full, message too long for it, list expansion
            (3, None): "soft",              # mail system full, not accepting, message too big
            (4, 4): "hard",                 # unable to route: no such domain
            (4, None): "soft",              # network and routing trouble
            (6, None): "soft",              # content
        }
        kind = specific.get((subject, detail)) or specific.get((subject, None))
        if kind:
            return kind, "status-code"
        if hard_text:
            return "hard", "text-unknown-user"
        if soft_text:
            return "soft", "text-soft"
        return "hard", "status-code"
    if POLICY_TEXT.search(diagnostic):
        return "soft", "text-policy"
    if hard_text:
        return "hard", "text-unknown-user"
    if soft_text:
        return "soft", "text-soft"
    if smtp_code == "552":  # 552: storage exceeded
        return "soft", "status-code"
    return "hard", "final-failure"


def _dsn_blocks(msg: Message) -> list[dict[str, str]]:
    """Per-recipient blocks of every message/delivery-status part."""
    blocks = []
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        payload = part.get_payload()
        if isinstance(payload, str):  # some parsers leave it as text: parse the header blocks
            payload = [email.message_from_string(chunk) for chunk in re.split(r"\n[ \t]*\n", payload)
                       if chunk.strip()]
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
    own = {get_settings().mail_from_address.lower(), site_settings.current().mail_from_address.lower()}
    return (address in own or local.startswith(VERP_PREFIX + "+")
            or local in ("postmaster", "mailer-daemon"))


def _addresses_after_intro(text: str) -> set[str]:
    """Addresses listed after an 'the following addresses failed' line (exim and its kind),
    for the notices flufl.bounce's detectors miss."""
    found: set[str] = set()
    for intro in itertools.islice(FAILED_INTRO.finditer(text), MAX_INTROS):  # a notice has one or two
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
        return BounceReport("unknown", delivery_id=delivery_id, diagnostic="ARF not-spam report",
                            rule="arf-not-spam")
    recipients = {parseaddr(str(v))[1].lower() for v in report.get_all("Original-Rcpt-To", []) if "@" in str(v)}
    if not recipients and original is not None:
        recipients = {a.lower() for _, a in getaddresses([str(v) for v in original.get_all("To", [])]) if "@" in a}
    return BounceReport("complaint", recipients, delivery_id, None,
                        f"ARF {feedback_type or 'abuse'}: {str(report.get('User-Agent', '')).strip()}".strip(": "),
                        "arf")


def _json_documents(msg: Message) -> list[dict]:
    """JSON objects carried by the text parts of a message (an SNS envelope is opened: its
    "Message" is itself JSON)."""
    found = []
    for part in msg.walk():
        if part.get_content_maintype() == "multipart" or part.get_content_type() not in (
                "text/plain", "application/json"):
            continue
        text = _text(part).strip()
        if not text.startswith("{"):
            continue
        try:
            document = json.loads(text)
        except ValueError:
            continue
        if isinstance(document, dict) and isinstance(document.get("Message"), str):
            try:
                inner = json.loads(document["Message"])
            except ValueError:
                inner = None
            if isinstance(inner, dict):
                document = inner
        if isinstance(document, dict):
            found.append(document)
    return found


def _ses(msg: Message, delivery_id: int | None) -> BounceReport | None:
    """An Amazon SES notification (possibly inside an SNS envelope) received by e-mail."""
    for document in _json_documents(msg):
        kind_of = str(document.get("notificationType") or document.get("eventType") or "")
        if not kind_of:
            continue
        if kind_of == "Bounce" and isinstance(document.get("bounce"), dict):
            bounce = document["bounce"]
            listed = [r for r in bounce.get("bouncedRecipients") or [] if isinstance(r, dict)]
            recipients = {str(r.get("emailAddress", "")).strip().lower() for r in listed
                          if "@" in str(r.get("emailAddress", ""))}
            status = next((normalise_status(str(r.get("status") or "")) for r in listed if r.get("status")), None)
            diagnostic = "; ".join(str(r["diagnosticCode"]) for r in listed if r.get("diagnosticCode")) or None
            bounce_type = str(bounce.get("bounceType", ""))
            reason = f"SES {bounce_type}/{bounce.get('bounceSubType', '')}: {diagnostic or ''}".strip(": ")
            if bounce_type == "Permanent":
                text = diagnostic or ""
                if FULL_TEXT.search(text):
                    return BounceReport("soft", recipients, delivery_id, status, reason, "text-mailbox-full")
                if POLICY_TEXT.search(text) and not (status or "").startswith("5.1."):
                    return BounceReport("soft", recipients, delivery_id, status, reason, "text-policy")
                return BounceReport("hard", recipients, delivery_id, status, reason, "ses-json")
            if bounce_type == "Transient":
                return BounceReport("soft", recipients, delivery_id, status, reason, "ses-json")
            return BounceReport("unknown", recipients, delivery_id, status, reason, "ses-json")
        if kind_of == "Complaint" and isinstance(document.get("complaint"), dict):
            complaint = document["complaint"]
            recipients = {str(r.get("emailAddress", "")).strip().lower()
                          for r in complaint.get("complainedRecipients") or []
                          if isinstance(r, dict) and "@" in str(r.get("emailAddress", ""))}
            feedback = complaint.get("complaintFeedbackType") or "abuse"
            return BounceReport("complaint", recipients, delivery_id, None, f"SES complaint: {feedback}", "ses-json")
        if kind_of == "DeliveryDelay":
            return BounceReport("delayed", set(), delivery_id, None, "SES delivery delay", "ses-json")
        return BounceReport("unknown", set(), delivery_id, None, f"SES {kind_of}", "ses-json")
    return None


def classify(message_bytes: bytes) -> BounceReport:
    """What a message received at the bounce address says: see BounceReport and BounceKind. Only
    its head is read (`bounded`)."""
    message_bytes = bounded(message_bytes)
    msg = _parse(message_bytes)
    delivery_id = _find_delivery_id(msg, message_bytes)

    complaint = _complaint(msg, delivery_id)
    if complaint is not None:
        return complaint

    ses = _ses(msg, delivery_id)
    if ses is not None:
        return ses

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
            return BounceReport("autoreply", recipients, delivery_id, status, diagnostic, "challenge")
        kind, rule = _kind_for(status, text)
        return BounceReport(kind, recipients, delivery_id, status, diagnostic or _excerpt(notice), rule)

    if permanent or (not delayed and not temporary and _looks_like_bounce(msg)):
        recipients = permanent or _addresses_after_intro(notice)
        if recipients:
            status = _text_status(notice)
            smtp = SMTP_CODE_RE.search(notice)
            if _is_challenge(notice):
                return BounceReport("autoreply", recipients, delivery_id, None, _excerpt(notice), "challenge")
            kind, rule = _kind_for(status, notice, smtp.group(1) if smtp else None)
            return BounceReport(kind, recipients, delivery_id, status, _excerpt(notice), rule)

    if delayed or temporary:
        recipients = {b["recipient"] for b in delayed if b["recipient"]} | temporary
        status = next((b["status"] for b in delayed if b["status"]), None)
        diagnostic = next((b["diagnostic"] for b in delayed if b["diagnostic"]), None)
        return BounceReport("delayed", recipients, delivery_id, status, diagnostic or _excerpt(notice), "delayed")

    if _is_autoreply(msg) or _is_challenge(notice):
        return BounceReport("autoreply", set(), delivery_id, None, _header(msg, "Subject")[:300] or None,
                            "autoreply")
    return BounceReport("unknown", set(), delivery_id, None, _header(msg, "Subject")[:300] or None, "not-a-bounce")


def _decoded(addresses: Iterable[bytes]) -> set[str]:
    return {a.decode("ascii", "replace").lower() for a in addresses}


def _excerpt(text: str, limit: int = 500) -> str | None:
    text = " ".join(text.split())
    return text[:limit] or None
