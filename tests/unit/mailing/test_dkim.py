"""DKIM signing (mailing.dkim): every signature is checked by dkimpy's verifier, the fast signer
makes the very bytes dkimpy's `dkim.sign` makes, and dkimpy's published test vectors (RFC 6376 /
RFC 8463 examples, read from ../shared/corpora/dkim/ at test time) verify and are reproduced."""
from __future__ import annotations

import base64
import re
import time

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from dkim.canonicalization import Relaxed
from dkim.util import parse_tag_value
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.conftest import shared_path

DOMAIN, SELECTOR = "parentalites.test", "lettre2026"
REQUIRED = {"from", "subject", "date", "message-id", "list-unsubscribe", "list-unsubscribe-post"}
try:
    import nacl  # noqa: F401  dkimpy verifies ed25519-sha256 with PyNaCl
    HAVE_NACL = True
except ImportError:
    HAVE_NACL = False
CANONICALIZATIONS = [(h, b) for h in (b"relaxed", b"simple") for b in (b"relaxed", b"simple")]


# --- Keys, DNS, messages ------------------------------------------------------------------------

def pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@pytest.fixture(scope="module")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ed_key():
    return ed25519.Ed25519PrivateKey.generate()


def txt_record(key) -> bytes:
    """The TXT record, made here from the public key (not by the code under test)."""
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def dns(records: dict[str, bytes | str]):
    """A stub resolver: `<selector>._domainkey.<domain>` → TXT record, and it notes what was asked."""
    asked: list[str] = []

    def dnsfunc(name: bytes, timeout: int = 5):
        asked.append(name.decode("ascii").rstrip("."))
        record = records.get(name.decode("ascii").rstrip("."))
        return record.encode() if isinstance(record, str) else record
    dnsfunc.asked = asked
    return dnsfunc


def our_dns(key, selector: str = SELECTOR, domain: str = DOMAIN):
    return dns({f"{selector}._domainkey.{domain}": txt_record(key)})


def letter_message(n: int = 1, *, name: str = "Camille Dupont-Durand", extra_text: str = "") -> bytes:
    """A letter as the mail-out makes it: build_message with the list headers, UTF-8,
    multipart/alternative, quoted-printable, CRLF (the conftest has set the environment)."""
    from mailing.mime import build_message
    unsubscribe = f"https://parentalites.test/desabonnement/{n:040x}"
    text = (f"Bonjour {name},\n\nLes ateliers parents-enfants reprennent à la médiathèque :\t"
            "inscriptions   ouvertes.  \n" + "Une ligne assez longue pour que le quoted-printable la coupe, "
            "avec des accents : é à ç ô ù, et des espaces en fin de ligne.   \n" * 40 + extra_text
            + f"\n-- \nSe désabonner en un clic : {unsubscribe}\n")
    html = ("<!doctype html><html><body>\n" + f"    <p>Bonjour {name},</p>\n"
            + "    <div style=\"font-size:16px;  line-height:1.5\">\t<p>Ateliers à la médiathèque</p>   </div>\n" * 60
            + f"    <a href=\"{unsubscribe}\">Se désabonner</a>\n</body></html>\n")
    return build_message(
        to=f"{name} <camille{n}@example.org>",
        subject="Lettre Parentalités n°42 : spécial rentrée, les ateliers parents-enfants reprennent partout",
        text=text, html=html, message_id=f"<lettre-42.{n}.abcd@parentalites.test>",
        headers={"List-Id": "Lettre Parentalités <lettre.parentalites.test>",
                 "List-Unsubscribe": f"<{unsubscribe}>",
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                 "Precedence": "bulk", "Auto-Submitted": "auto-generated"})


def signature_tags(signed: bytes, index: int = 0) -> dict[bytes, bytes]:
    headers, _ = dkim.rfc822_parse(signed)
    values = [value for name, value in headers if name.lower() == b"dkim-signature"]
    return parse_tag_value(values[index])


def h_tag(signed: bytes, index: int = 0) -> list[str]:
    return [h.strip().decode().lower() for h in re.sub(rb"\s+", b"", signature_tags(signed, index)[b"h"]).split(b":")]


def replace_header(message: bytes, name: bytes, value: bytes) -> bytes:
    """Replace a (possibly folded) header field's value."""
    head, sep, body = message.partition(b"\r\n\r\n")
    pattern = re.compile(rb"^" + re.escape(name) + rb":.*?(?=\r\n(?![ \t]))", re.M | re.S | re.I)
    new_head, count = pattern.subn(name + b": " + value, head, count=1)
    assert count == 1, name
    return new_head + sep + body


@pytest.fixture
def dkimpy_clock(monkeypatch):
    """Pins the clock dkimpy reads for t=, so that both engines can sign at the same second."""
    def pin(timestamp: int):
        monkeypatch.setattr(dkim.time, "time", lambda: float(timestamp))
    return pin


# --- Our letters, signed and verified ------------------------------------------------------------

@pytest.mark.parametrize("engine", ["fast", "dkimpy"])
def test_letters_are_signed_and_verify(rsa_key, engine):
    from mailing.dkim import DKIMSigner
    signer = DKIMSigner(DOMAIN, SELECTOR, pem(rsa_key), engine=engine)
    assert signer.engine == engine and signer.algorithm == b"rsa-sha256"
    dnsfunc = our_dns(rsa_key)
    for n in range(12):  # every signature of a batch, each with its own body and headers
        message = letter_message(n, name=f"Camille {n}" if n % 3 else "")
        signed = signer.sign(message)
        assert signed.startswith(b"DKIM-Signature: ") and signed.endswith(message)
        assert dkim.verify(signed, dnsfunc=dnsfunc), n
    assert set(dnsfunc.asked) == {f"{SELECTOR}._domainkey.{DOMAIN}"}

    tags = signature_tags(signed)
    assert tags[b"a"] == b"rsa-sha256" and tags[b"c"] == b"relaxed/relaxed"
    assert (tags[b"d"], tags[b"s"]) == (DOMAIN.encode(), SELECTOR.encode())
    assert abs(int(tags[b"t"]) - time.time()) < 120
    signed_headers = h_tag(signed)
    assert set(signed_headers) >= REQUIRED
    assert set(signed_headers) == REQUIRED | {"to", "list-id", "mime-version", "content-type"}
    assert "precedence" not in signed_headers and "auto-submitted" not in signed_headers
    # the header is folded like any header: no line longer than RFC 5322 recommends
    header = signed[:len(signed) - len(message)]
    assert header.endswith(b"\r\n") and all(len(line) <= 78 for line in header.split(b"\r\n"))


def test_only_present_headers_are_signed(rsa_key):
    """A transactional e-mail has no List-* fields: they are not named in h= (naming an absent
    field once is legal but pointless; oversigning still names absent ones never)."""
    from mailing.dkim import DKIMSigner
    from mailing.mime import build_message
    message = build_message(to="a@example.org", subject="Confirmez votre abonnement", text="Bonjour\n",
                            html=None, message_id="<t.1@parentalites.test>")
    signed = DKIMSigner(DOMAIN, SELECTOR, pem(rsa_key)).sign(message)
    assert dkim.verify(signed, dnsfunc=our_dns(rsa_key))
    assert h_tag(signed) == ["from", "to", "subject", "date", "message-id", "mime-version", "content-type",
                             "from", "subject"]


def test_tampering_breaks_the_signature(rsa_key):
    from mailing.dkim import DKIMSigner
    dnsfunc = our_dns(rsa_key)
    signed = DKIMSigner(DOMAIN, SELECTOR, pem(rsa_key)).sign(letter_message(7))
    assert dkim.verify(signed, dnsfunc=dnsfunc)

    body_at = signed.index(b"\r\n\r\n") + 4
    assert b"m=C3=A9diath=C3=A8que" in signed[body_at:]
    broken = {
        "body": signed[:body_at] + signed[body_at:].replace(b"m=C3=A9diath=C3=A8que", b"m=C3=A9diatheque", 1),
        "body appended": signed + b"PS : un lien de plus.\r\n",
        "subject": replace_header(signed, b"Subject", b"Gagnez un lot !"),
        "from": replace_header(signed, b"From", b"Lettre <lettre@ailleurs.example>"),
        "list-unsubscribe": replace_header(signed, b"List-Unsubscribe", b"<https://evil.example/u>"),
        "date": replace_header(signed, b"Date", b"Mon, 01 Jan 2024 00:00:00 +0000"),
        "second subject": signed[:body_at - 2] + b"Subject: Autre sujet\r\n" + signed[body_at - 2:],
        "second list-unsubscribe": signed[:body_at - 2] + b"List-Unsubscribe: <https://evil.example/u>\r\n"
                                   + signed[body_at - 2:],
        "wrong key": DKIMSigner(DOMAIN, SELECTOR, pem(rsa.generate_private_key(65537, 2048))).sign(letter_message(7)),
    }
    for what, message in broken.items():
        assert not dkim.verify(message, dnsfunc=dnsfunc), what

    # what relaxed canonicalisation forgives: an unsigned field added, whitespace changed
    # in a signed field, trailing spaces and empty lines at the end of the body
    forgiven = {
        "unsigned field added": b"Received: from relay.example by mx.example\r\n" + signed,
        "whitespace in a signed field": replace_header(
            signed, b"List-Unsubscribe-Post", b"  List-Unsubscribe=One-Click  "),
        "trailing empty lines": signed + b"\r\n\r\n",
    }
    for what, message in forgiven.items():
        assert dkim.verify(message, dnsfunc=dnsfunc), what


def test_ed25519_keys(ed_key):
    pytest.importorskip("nacl", reason="dkimpy verifies ed25519-sha256 with PyNaCl")
    from mailing.dkim import DKIMSigner, public_key_record
    assert public_key_record(pem(ed_key)).encode() == txt_record(ed_key)
    for engine in ("fast", "dkimpy"):
        signer = DKIMSigner(DOMAIN, SELECTOR, pem(ed_key), engine=engine)
        assert signer.algorithm == b"ed25519-sha256"
        signed = signer.sign(letter_message(3))
        assert dkim.verify(signed, dnsfunc=our_dns(ed_key)), engine
        assert signature_tags(signed)[b"a"] == b"ed25519-sha256"
        assert not dkim.verify(signed + b"x\r\n", dnsfunc=our_dns(ed_key))


def test_public_key_record(rsa_key):
    from mailing.dkim import public_key_record
    assert public_key_record(pem(rsa_key)).encode() == txt_record(rsa_key)


# --- The fast signer is dkimpy's signature, made faster ------------------------------------------

@pytest.mark.parametrize("canonicalize", CANONICALIZATIONS, ids=lambda c: b"/".join(c).decode())
def test_fast_signer_makes_the_bytes_dkimpy_makes(rsa_key, ed_key, dkimpy_clock, canonicalize):
    pytest.importorskip("nacl", reason="dkimpy signs ed25519-sha256 with PyNaCl")
    from mailing.dkim import DKIMSigner
    messages = [
        letter_message(1), letter_message(2, name=""),
        # bare LF, tabs, trailing whitespace, empty lines at the end: dkimpy's reading of them
        b"From: a@parentalites.test\nTo: b@example.org\nSubject:  folded\n\tsubject \t\n\n"
        b"line one \t \nline\t\ttwo\r\n\r\n  \n\n",
        b"From: a@parentalites.test\r\nSubject: empty body\r\n\r\n",
        b"From: a@parentalites.test\r\nSubject: no body at all\r\n",
    ]
    for key in (rsa_key, ed_key):
        fast = DKIMSigner(DOMAIN, SELECTOR, pem(key), engine="fast", canonicalize=canonicalize)
        library = DKIMSigner(DOMAIN, SELECTOR, pem(key), engine="dkimpy", canonicalize=canonicalize)
        for index, message in enumerate(messages):
            timestamp = 1_780_000_000 + index
            dkimpy_clock(timestamp)
            ours = fast.signature(message, timestamp=timestamp)
            # the library itself, called as the documentation says
            reference = dkim.sign(message, SELECTOR.encode(), DOMAIN.encode(), library._dkimpy_key,
                                  canonicalize=canonicalize, signature_algorithm=fast.algorithm,
                                  include_headers=list(fast.include_headers(dkim.rfc822_parse(message)[0])))
            assert ours == reference == library.signature(message), (key, index)
            assert dkim.verify(ours + message, dnsfunc=our_dns(key)), (key, index)


body_pieces = st.lists(st.sampled_from([b" ", b"\t", b"\r\n", b"\r", b"a", b"\xc3\xa9", b"=20", b"  "]),
                       max_size=60).map(b"".join)


@hsettings(max_examples=400, deadline=None)
@given(body=body_pieces)
def test_relaxed_body_canonicalisation_is_dkimpys(body):
    from mailing.dkim import canonicalize_body_relaxed
    assert canonicalize_body_relaxed(body) == Relaxed.canonicalize_body(body)


@hsettings(max_examples=60, deadline=None)
@given(body=st.lists(st.sampled_from([b" ", b"\t", b"\r\n", b"\n", b"x", b"  y "]), max_size=40).map(b"".join))
def test_fast_signature_equals_dkimpys_on_any_body(rsa_key, body):
    from mailing.dkim import DKIMSigner
    signer = DKIMSigner(DOMAIN, SELECTOR, pem(rsa_key))
    message = b"From: a@parentalites.test\r\nSubject: s\r\n\r\n" + body
    ours = signer.signature(message, timestamp=1_780_000_000)
    original = dkim.time.time
    dkim.time.time = lambda: 1_780_000_000.0  # hypothesis and function-scoped fixtures do not mix
    try:
        reference = dkim.sign(message, SELECTOR.encode(), DOMAIN.encode(), pem(rsa_key),
                              canonicalize=(b"relaxed", b"relaxed"), include_headers=[b"from", b"subject",
                                                                                      b"from", b"subject"])
    finally:
        dkim.time.time = original
    assert ours == reference


# --- Configuration -------------------------------------------------------------------------------

def test_signer_from_env(rsa_key, tmp_path):
    from mailing.dkim import DKIMSigner, signer_from_env
    assert signer_from_env({}) is None
    assert signer_from_env({"DKIM_DOMAIN": "", "DKIM_SELECTOR": " "}) is None

    key_pem = pem(rsa_key).decode()
    path = tmp_path / "dkim.pem"
    path.write_text(key_pem)
    base = {"DKIM_DOMAIN": DOMAIN, "DKIM_SELECTOR": SELECTOR}
    for value in (key_pem, str(path), key_pem.replace("\n", "\\n"), key_pem.replace("\n", "\r\n")):
        signer = signer_from_env({**base, "DKIM_PRIVATE_KEY": value})
        assert isinstance(signer, DKIMSigner) and signer.engine == "fast"
        assert dkim.verify(signer.sign(letter_message(5)), dnsfunc=our_dns(rsa_key))


def test_signer_from_env_reads_os_environ(rsa_key, monkeypatch, reread_settings):
    from mailing.dkim import signer_from_env
    for name in ("DKIM_DOMAIN", "DKIM_SELECTOR", "DKIM_PRIVATE_KEY"):
        monkeypatch.delenv(name, raising=False)
    reread_settings()
    assert signer_from_env() is None  # off by default
    monkeypatch.setenv("DKIM_DOMAIN", DOMAIN)
    monkeypatch.setenv("DKIM_SELECTOR", SELECTOR)
    monkeypatch.setenv("DKIM_PRIVATE_KEY", pem(rsa_key).decode())
    reread_settings()
    assert signer_from_env().domain == DOMAIN.encode()


def assert_bilingual(error: pytest.ExceptionInfo, *fragments: str) -> None:
    """The message says it in French, then in English: "DKIM : … / DKIM: …"."""
    text = str(error.value)
    assert "DKIM : " in text and " / DKIM: " in text, text
    french, english = text.split(" / DKIM: ", 1)
    assert re.search(r"invalide|manque|clé|n'est ni|n'a pas pu|chiffrée|vont ensemble", french), text
    assert re.search(r"\b(invalid|missing|neither|could not|encrypted|go together)\b", english), text
    for fragment in fragments:
        assert fragment in french and fragment in english, (fragment, text)


def test_signer_from_env_errors(tmp_path, rsa_key):
    from mailing.dkim import signer_from_env
    base = {"DKIM_DOMAIN": DOMAIN, "DKIM_SELECTOR": SELECTOR}
    with pytest.raises(ValueError) as error:
        signer_from_env({"DKIM_DOMAIN": DOMAIN})
    assert_bilingual(error, "DKIM_SELECTOR", "DKIM_PRIVATE_KEY")
    with pytest.raises(ValueError) as error:
        signer_from_env({**base, "DKIM_PRIVATE_KEY": str(tmp_path / "absente.pem")})
    assert_bilingual(error, "DKIM_PRIVATE_KEY", "absente.pem")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n")
    for value in (str(garbage), garbage.read_text()):
        with pytest.raises(ValueError) as error:
            signer_from_env({**base, "DKIM_PRIVATE_KEY": value})
        assert_bilingual(error, "DKIM_PRIVATE_KEY")
    encrypted = rsa_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"secret")).decode()
    with pytest.raises(ValueError) as error:
        signer_from_env({**base, "DKIM_PRIVATE_KEY": encrypted})
    assert_bilingual(error, "DKIM_PRIVATE_KEY")
    with pytest.raises(ValueError) as error:
        signer_from_env({**base, "DKIM_DOMAIN": "parentalites test", "DKIM_PRIVATE_KEY": pem(rsa_key).decode()})
    assert_bilingual(error, "DKIM_DOMAIN", "parentalites test")


# --- dkimpy's published vectors: ../shared/corpora/dkim/ -----------------------------------------

@pytest.fixture(scope="module")
def corpus():
    return shared_path("corpora", "dkim")


@pytest.fixture(scope="module")
def manifest_dns(corpus) -> dict[str, bytes]:
    """The stub resolver's records, as the MANIFEST lists them: a quoted record or a file's contents."""
    records = {}
    for name, value in re.findall(r"^\s+(\S+\._domainkey\.\S+?)\.?\s+->\s+(.+?)\s*$",
                                  (corpus / "MANIFEST.txt").read_text(), re.M):
        if value.startswith('"'):
            records[name] = value.split('"')[1].encode()
        else:
            file = re.match(r"contents of (\S+)", value).group(1)
            records[name] = (corpus / file).read_bytes().strip()
    assert set(records) == {"test._domainkey.football.example.com", "brisbane._domainkey.football.example.com",
                            "test._domainkey.example.net", "sed._domainkey.test.ex"}
    return records


def test_manifest_keys_are_the_published_private_keys(corpus, manifest_dns):
    """The keys given as files are the private halves of the records the MANIFEST publishes."""
    from mailing.dkim import public_key_record

    def p(record: bytes) -> bytes:
        return parse_tag_value(record.replace(b" ", b""))[b"p"]
    for key_file, name in (("rfc8032_7_1.key", "brisbane._domainkey.football.example.com"),
                           ("ed25519test.key", "test._domainkey.example.net"),
                           ("test.private", "test._domainkey.football.example.com")):
        assert p(public_key_record((corpus / key_file).read_bytes()).encode()) == p(manifest_dns[name]), key_file
    # RFC 8032 §7.1 TEST 1: the key's public half is the one the RFC gives
    raw = base64.b64decode(p(manifest_dns["brisbane._domainkey.football.example.com"]))
    assert raw.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"


def verifies(message: bytes, dnsfunc, idx: int = 0) -> bool:
    """DKIM.verify for the signature number idx; False (not an exception) when it does not verify."""
    try:
        return dkim.DKIM(message).verify(idx=idx, dnsfunc=dnsfunc)
    except dkim.DKIMException:
        return False


def test_rfc8463_example_verifies(corpus, manifest_dns):
    """rfc6376.signed.msg: signed with both ed25519-sha256 (s=brisbane) and rsa-sha256 (s=test);
    upstream's test_rfc8032_previous_verifies expects DKIM(msg).verify(dnsfunc) to be True."""
    pytest.importorskip("nacl", reason="dkimpy verifies ed25519-sha256 with PyNaCl")
    message = (corpus / "rfc6376.signed.msg").read_bytes()
    dnsfunc = dns(manifest_dns)
    assert verifies(message, dnsfunc, 0) and verifies(message, dnsfunc, 1)
    assert [signature_tags(message, i)[b"a"] for i in (0, 1)] == [b"ed25519-sha256", b"rsa-sha256"]
    tampered = message.replace(b"We lost the game", b"We won the game")
    assert tampered != message
    assert not verifies(tampered, dnsfunc, 0) and not verifies(tampered, dnsfunc, 1)


def test_rfc8463_example_is_reproduced(corpus, manifest_dns):
    """Both signatures are deterministic (Ed25519; RSASSA-PKCS1-v1_5): our signer, given the same
    keys and the published signature fields, computes the same bh= and the same b=, bit for bit."""
    from mailing.dkim import DKIMSigner
    signed = (corpus / "rfc6376.signed.msg").read_bytes()
    unsigned = (corpus / "rfc6376.msg").read_bytes()
    headers, _ = dkim.rfc822_parse(signed)
    signatures = [value for name, value in headers if name.lower() == b"dkim-signature"]
    assert signed.endswith(unsigned)
    for value, key_file in zip(signatures, ("rfc8032_7_1.key", "test.private"), strict=True):
        tags = parse_tag_value(value)
        include = tuple(h.strip().lower() for h in re.sub(rb"\s+", b"", tags[b"h"]).split(b":"))
        signer = DKIMSigner(tags[b"d"], tags[b"s"], (corpus / key_file).read_bytes(),
                            signed_headers=[h.decode() for h in dict.fromkeys(include)],
                            oversigned_headers=("from", "subject", "date"),
                            canonicalize=tuple(tags[b"c"].split(b"/")))
        assert signer.algorithm == tags[b"a"]
        assert signer.include_headers(dkim.rfc822_parse(unsigned)[0]) == include
        # bh=: the body hash of the unsigned message
        ours = signer.signature(unsigned, timestamp=int(tags[b"t"]))
        assert parse_tag_value(ours.partition(b": ")[2])[b"bh"] == tags[b"bh"]
        # b=: the signature of the published header block
        raw = signer.sign_data(signer.signed_data(headers, include, value))
        assert base64.b64encode(raw) == re.sub(rb"\s+", b"", tags[b"b"]), key_file
        # and our own signature of the same message verifies with the published keys
        if tags[b"a"] == b"rsa-sha256" or HAVE_NACL:
            assert dkim.verify(ours + unsigned, dnsfunc=dns(manifest_dns)), key_file


def test_third_party_exim_signature_verifies(corpus, manifest_dns):
    """ed25519test2.msg was signed by a prototype Exim implementation (upstream's
    test_verify_third_party): dkimpy accepts it, and a change of its body is caught."""
    pytest.importorskip("nacl", reason="dkimpy verifies ed25519-sha256 with PyNaCl")
    message = (corpus / "ed25519test2.msg").read_bytes()
    dnsfunc = dns(manifest_dns)
    assert dkim.verify(message, dnsfunc=dnsfunc)
    assert dnsfunc.asked == ["sed._domainkey.test.ex"]
    assert not dkim.verify(message.replace(b"content", b"contents"), dnsfunc=dnsfunc)


@pytest.mark.parametrize("canonicalize", CANONICALIZATIONS, ids=lambda c: b"/".join(c).decode())
@pytest.mark.parametrize("engine", ["fast", "dkimpy"])
def test_round_trips_with_the_published_keys(corpus, manifest_dns, engine, canonicalize):
    """Upstream's sign-then-verify round trips: ed25519test.msg/.key (Ed25519, dkimpy's bare seed
    form) and test.message/test.private (RSA), over the four canonicalisations."""
    pytest.importorskip("nacl", reason="dkimpy verifies ed25519-sha256 with PyNaCl")
    from mailing.dkim import DKIMSigner
    dnsfunc = dns(manifest_dns)
    cases = [("ed25519test.msg", "ed25519test.key", "example.net", "test"),
             ("test.message", "test.private", "football.example.com", "test")]
    for message_file, key_file, domain, selector in cases:
        message = (corpus / message_file).read_bytes()
        signer = DKIMSigner(domain, selector, (corpus / key_file).read_bytes(), engine=engine,
                            canonicalize=canonicalize)
        signed = signer.sign(message)
        assert dkim.verify(signed, dnsfunc=dnsfunc), message_file
        assert not dkim.verify(signed + b"foo", dnsfunc=dnsfunc), message_file
        assert h_tag(signed)[0] == "from"


def test_message_without_from_is_refused(corpus):
    """test_nofrom.message: upstream expects dkim.sign to raise dkim.ParameterError; so do we."""
    from mailing.dkim import DKIMSigner
    message = (corpus / "test_nofrom.message").read_bytes()
    key = (corpus / "test.private").read_bytes()
    with pytest.raises(dkim.ParameterError):
        dkim.sign(message, b"test", b"football.example.com", key)
    for engine in ("fast", "dkimpy"):
        with pytest.raises(dkim.ParameterError):
            DKIMSigner("football.example.com", "test", key, engine=engine).sign(message)
