"""DKIM signing of outgoing mail. Optional and off by default: it is on only when `DKIM_DOMAIN`,
`DKIM_SELECTOR` and `DKIM_PRIVATE_KEY` are all set (see `signer_from_settings`).

Two engines make the same `DKIM-Signature:` header:

* "fast" (the default when the `cryptography` package is there): the relaxed body is canonicalised
  with a few `bytes` scans (only the runs of whitespace that canonicalisation changes are touched),
  hashed with hashlib, and the header hash is signed by OpenSSL through `cryptography`. The cheap
  header work (parsing, choosing the signed fields, folding the signature) reuses dkimpy's own
  helpers, so that for the same message, key and timestamp the header is byte for byte the one
  `dkim.sign` makes (the tests check that, and that `dkim.verify` accepts every signature).
* "dkimpy": `dkim.DKIM.sign`, the library itself (pure-Python RSA and regular expressions over the
  whole body: about as slow as building the message). Kept as the reference and the fallback.

Every letter has its own MIME boundary and its own greeting near the top of the body, so no prefix
of the body is shared between two recipients: the body is hashed once per message, and what is made
fast is the canonicalisation and the RSA signature, which were the costs.

The key may be RSA (rsa-sha256, 2048 bits recommended) or Ed25519 (ed25519-sha256, RFC 8463), given
as PEM; an Ed25519 key may also be the bare base64 32-byte seed that dkimpy uses.
"""
from __future__ import annotations

import base64
import hashlib
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path

# dkimpy internals (not its public API): rfc822_parse, fold, select_headers, RE_BTAG and the
# canonicalization helpers below. pyproject.toml pins dkimpy to the versions they were checked with;
# tests/test_dkimpy_internals.py says which one moved.
import dkim
from dkim.canonicalization import (
    CanonicalizationPolicy,
    correct_empty_body,
    strip_trailing_lines,
)

from core.settings import InvalidSetting, Settings, get_settings

try:  # the fast engine; without it, dkimpy signs
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa
    HAVE_CRYPTOGRAPHY = True
except ImportError:  # pragma: no cover - cryptography is a declared dependency
    HAVE_CRYPTOGRAPHY = False

RSA_SHA256 = b"rsa-sha256"
ED25519_SHA256 = b"ed25519-sha256"

#: The header fields signed when present, in this order.
SIGNED_HEADERS = (
    "from", "to", "subject", "date", "message-id", "list-id", "list-unsubscribe",
    "list-unsubscribe-post", "mime-version", "content-type",
)
#: Signed once more than they occur, so that a field of that name added on the way breaks the
#: signature (RFC 6376 §8.15): a second From or Subject would mislead the reader, a second
#: List-Unsubscribe(-Post) would redirect one-click unsubscription.
OVERSIGNED_HEADERS = ("from", "subject", "list-unsubscribe", "list-unsubscribe-post")

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_EOL = re.compile(rb"\r?\n")
_SPACES = re.compile(rb"  +")
_ED25519_PKCS8_PREFIX = bytes.fromhex("302e020100300506032b657004220420")


class DKIMError(InvalidSetting):
    """A DKIM setting or key that cannot be used. str() says it in French then English on one
    line, "DKIM : … / DKIM: …"; `fr` and `en` are the two halves."""

    def __str__(self) -> str:
        return f"{self.fr} / {self.en}"


def _error(fr: str, en: str, variable: str = "DKIM_PRIVATE_KEY") -> DKIMError:
    return DKIMError(variable, f"DKIM : {fr}", f"DKIM: {en}")


def canonicalize_body_relaxed(body: bytes) -> bytes:
    """RFC 6376 §3.4.4, equal to dkimpy's `Relaxed.canonicalize_body` (CRLF line ends expected):
    every run of WSP becomes one space, WSP at the end of a line goes, empty lines at the end go."""
    if b"\t" in body:
        body = body.replace(b"\t", b" ")  # a run of WSP becomes one space whatever it is made of
    if b"  " in body:
        body = _SPACES.sub(b" ", body)
    if b" \r\n" in body:  # runs are single spaces now: this removes all trailing WSP
        body = body.replace(b" \r\n", b"\r\n")
    return correct_empty_body(strip_trailing_lines(body))


def canonicalize_body_simple(body: bytes) -> bytes:
    """RFC 6376 §3.4.3: only the empty lines at the end go (dkimpy's `Simple`)."""
    return strip_trailing_lines(body)


_BODY_CANONICALIZERS = {b"relaxed": canonicalize_body_relaxed, b"simple": canonicalize_body_simple}


# --- Keys ---------------------------------------------------------------------------------------

def _load_key(data: bytes):
    """(algorithm, cryptography key or None, key in the form dkimpy takes). ValueError otherwise."""
    data = data.strip().replace(b"\r\n", b"\n")
    if not data:
        raise _error("la clé privée est vide.", "the private key is empty.")
    if not data.startswith(b"-----BEGIN"):
        try:  # dkimpy's own Ed25519 form: the base64 32-byte seed
            seed = base64.b64decode(data, validate=True)
        except ValueError:
            seed = b""
        if len(seed) != 32:
            raise _error("la clé privée n'est ni une clé PEM ni une graine Ed25519 en base64.",
                         "the private key is neither a PEM key nor a base64 Ed25519 seed.")
        seed_key = ed25519.Ed25519PrivateKey.from_private_bytes(seed) if HAVE_CRYPTOGRAPHY else None
        return ED25519_SHA256, seed_key, base64.b64encode(seed)
    pem = data + b"\n"
    if not HAVE_CRYPTOGRAPHY:  # pragma: no cover
        return _load_key_with_dkimpy(pem)
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except TypeError as exc:  # encrypted
        raise _error("la clé privée est chiffrée par une phrase secrète : fournir une clé non chiffrée.",
                     f"the private key is encrypted with a passphrase: give an unencrypted key ({exc}).") from exc
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _error("la clé privée PEM n'a pas pu être lue.",
                     f"the PEM private key could not be read ({exc}).") from exc
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 1024:
            raise _error(
                f"clé RSA de {key.key_size} bits : les vérificateurs en exigent au moins 1024 (2048 conseillés).",
                f"{key.key_size}-bit RSA key: verifiers require at least 1024 bits (2048 recommended).")
        legacy = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                   serialization.NoEncryption())
        return RSA_SHA256, key, legacy
    if isinstance(key, ed25519.Ed25519PrivateKey):
        seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption())
        return ED25519_SHA256, key, base64.b64encode(seed)
    raise _error(f"type de clé non pris en charge ({type(key).__name__}) : RSA ou Ed25519 seulement.",
                 f"unsupported key type ({type(key).__name__}): RSA or Ed25519 only.")


def _load_key_with_dkimpy(pem: bytes):  # pragma: no cover - only without cryptography
    from dkim.crypto import UnparsableKeyError, parse_pem_private_key
    try:
        parse_pem_private_key(pem)
        return RSA_SHA256, None, pem
    except UnparsableKeyError:
        pass
    der = base64.b64decode(b"".join(line for line in pem.splitlines() if not line.startswith(b"-----")))
    if der.startswith(_ED25519_PKCS8_PREFIX) and len(der) == len(_ED25519_PKCS8_PREFIX) + 32:
        return ED25519_SHA256, None, base64.b64encode(der[-32:])
    raise _error("la clé privée PEM n'a pas pu être lue.", "the PEM private key could not be read.")


def public_key_record(private_key_pem: bytes) -> str:
    """The TXT record to publish at `<selector>._domainkey.<domain>` for this private key."""
    algorithm, key, _ = _load_key(private_key_pem)
    if key is None:  # pragma: no cover
        raise RuntimeError("cryptography is needed to derive the public key")
    if algorithm == RSA_SHA256:
        der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.SubjectPublicKeyInfo)
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode('ascii')}"
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode('ascii')}"


# --- Signer -------------------------------------------------------------------------------------

def _ascii(value: str | bytes, fr_name: str, en_name: str, variable: str = "DKIM_DOMAIN") -> bytes:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    value = value.strip()
    if not value or not value.isascii() or any(c in value for c in " ;=:\t\r\n"):
        raise _error(f"{fr_name} invalide : {value!r}.", f"invalid {en_name}: {value!r}.", variable)
    return value.encode("ascii")


class DKIMSigner:
    """Signs messages for one domain and selector. Build it once (the key is parsed then) and call
    `sign` for every message; it is stateless per call, so one signer serves many threads."""

    def __init__(self, domain: str | bytes, selector: str | bytes, private_key_pem: bytes | str, *,
                 engine: str = "auto", signed_headers: tuple[str, ...] = SIGNED_HEADERS,
                 oversigned_headers: tuple[str, ...] = OVERSIGNED_HEADERS,
                 canonicalize: tuple[bytes, bytes] = (b"relaxed", b"relaxed")):
        self.domain = _ascii(domain, "domaine", "domain")
        self.selector = _ascii(selector, "sélecteur", "selector", "DKIM_SELECTOR")
        if isinstance(private_key_pem, str):
            private_key_pem = private_key_pem.encode("ascii", "replace")
        self.algorithm, self._key, self._dkimpy_key = _load_key(private_key_pem)
        if engine == "auto":
            engine = "fast" if self._key is not None else "dkimpy"
        if engine not in ("fast", "dkimpy") or (engine == "fast" and self._key is None):
            raise ValueError(f"DKIM engine {engine!r} is not available")
        self.engine = engine
        self.signed_headers = tuple(h.lower() for h in signed_headers)
        self.oversigned_headers = tuple(h.lower() for h in oversigned_headers)
        self.policy = CanonicalizationPolicy.from_c_value(b"/".join(canonicalize))
        self._canonicalize_body = _BODY_CANONICALIZERS[self.policy.body_algorithm.name]

    def __repr__(self) -> str:
        return (f"DKIMSigner(d={self.domain.decode()}, s={self.selector.decode()}, "
                f"a={self.algorithm.decode()}, engine={self.engine})")

    def include_headers(self, headers: list) -> tuple[bytes, ...]:
        """h=: the signed fields present in the message, then the oversigned ones once more."""
        present = {name.lower().rstrip() for name, _ in headers}
        if b"from" not in present:
            raise dkim.ParameterError("The From header field MUST be signed / le message n'a pas de From")
        names = [h.encode("ascii") for h in self.signed_headers if h.encode("ascii") in present]
        return tuple(names + [h.encode("ascii") for h in self.oversigned_headers if h.encode("ascii") in present])

    def sign(self, message: bytes, *, timestamp: int | None = None) -> bytes:
        """The message with a `DKIM-Signature:` header field prepended."""
        return self.signature(message, timestamp=timestamp) + message

    def signature(self, message: bytes, *, timestamp: int | None = None) -> bytes:
        """The `DKIM-Signature: …` header field alone, ending with CRLF."""
        if self.engine == "dkimpy":
            if timestamp is not None:
                raise ValueError("the dkimpy engine always signs with the current time")
            return self._signature_dkimpy(message)
        return self._signature_fast(message, timestamp)

    # dkimpy, the reference
    def _signature_dkimpy(self, message: bytes) -> bytes:
        signer = dkim.DKIM(message, signature_algorithm=self.algorithm)
        return signer.sign(self.selector, self.domain, self._dkimpy_key,
                           canonicalize=self.policy.to_c_value().split(b"/"),
                           include_headers=list(self.include_headers(signer.headers)))

    # the fast engine: same fields, same folding, same bytes as dkimpy's DKIM.sign and gen_header
    def _signature_fast(self, message: bytes, timestamp: int | None) -> bytes:
        found = _HEADER_END.search(message)
        head, body = (message[:found.start()], message[found.end():]) if found else (message, b"")
        if body.count(b"\n") != body.count(b"\r\n"):  # bare LF: dkimpy reads lines as \r?\n
            body = _EOL.sub(b"\r\n", body)
        headers = dkim.rfc822_parse(head)[0]
        include = self.include_headers(headers)
        body_hash = base64.b64encode(hashlib.sha256(self._canonicalize_body(body)).digest())
        if timestamp is None:
            timestamp = int(time.time())
        fields = [
            (b"v", b"1"), (b"a", self.algorithm), (b"c", self.policy.to_c_value()),
            (b"d", self.domain), (b"i", b"@" + self.domain), (b"q", b"dns/txt"), (b"s", self.selector),
            (b"t", str(int(timestamp)).encode("ascii")), (b"h", b" : ".join(include)),
            (b"bh", body_hash), (b"b", b"0" * 60),  # b= folds onto its own line, as in dkimpy
        ]
        name = b"DKIM-Signature"
        value = dkim.fold(b"; ".join(b"=".join(f) for f in fields), namelen=len(name), linesep=b"\r\n")
        raw = self.sign_data(self.signed_data(headers, include, b" " + value))
        fields[-1] = (b"b", base64.b64encode(raw))
        value = b"; ".join(b"=".join(f) for f in fields) + b"\r\n"
        return name + b": " + dkim.fold(value, namelen=len(name), linesep=b"\r\n")

    def signed_data(self, headers: list, include: tuple[bytes, ...], signature_value: bytes) -> bytes:
        """What the signature covers (RFC 6376 §3.7): the `include` fields of `headers` as parsed by
        `dkim.rfc822_parse`, canonicalised, then the DKIM-Signature field whose value is
        `signature_value`, with its b= emptied and without its final CRLF."""
        data = bytearray()
        for field_name, field_value in dkim.select_headers(self.policy.canonicalize_headers(headers), include):
            data += field_name + b":" + field_value
        signature_field = (b"DKIM-Signature", dkim.RE_BTAG.sub(b"\\1", signature_value))
        for field_name, field_value in self.policy.canonicalize_headers([signature_field]):
            data += field_name + b":" + field_value.rstrip()
        return bytes(data)

    def sign_data(self, data: bytes) -> bytes:
        """The raw b= signature of `data`: RSASSA-PKCS1-v1_5 over SHA-256 (RFC 6376), or Ed25519 over
        the SHA-256 of the data (RFC 8463). Both are deterministic."""
        if self.algorithm == RSA_SHA256:
            return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return self._key.sign(hashlib.sha256(data).digest())


# --- Configuration ------------------------------------------------------------------------------

def _read_key_setting(raw: str) -> bytes:
    value = raw.strip()
    if "-----BEGIN" in value:
        if "\n" not in value and "\\n" in value:  # one-line form of env files: \n escaped
            value = value.replace("\\n", "\n")
        return value.encode("ascii", "replace")
    path = Path(value).expanduser()
    try:
        return path.read_bytes()
    except OSError as exc:
        if len(value) == 44 and os.sep not in value:  # perhaps a bare base64 Ed25519 seed
            return value.encode("ascii", "replace")
        reason = exc.strerror or exc
        raise _error(f"DKIM_PRIVATE_KEY n'est ni une clé PEM ni un fichier lisible ({path} : {reason}).",
                     f"DKIM_PRIVATE_KEY is neither a PEM key nor a readable file ({path}: {reason}).") from exc


def signer_from_settings(settings: Settings) -> DKIMSigner | None:
    """The signer configured by `DKIM_DOMAIN`, `DKIM_SELECTOR` and `DKIM_PRIVATE_KEY` (a PEM key,
    or the path of a PEM file), or None when none of them is set: DKIM is off by default. Setting
    only some of them, or a key that cannot be loaded, is a DKIMError (in French and English)."""
    return _signer(settings.dkim_domain, settings.dkim_selector, settings.dkim_private_key)


def signer_from_env(environ: Mapping[str, str] | None = None) -> DKIMSigner | None:
    """`signer_from_settings` for a mapping of the three variables (default: the settings)."""
    if environ is None:
        return signer_from_settings(get_settings())
    return _signer(environ.get("DKIM_DOMAIN"), environ.get("DKIM_SELECTOR"), environ.get("DKIM_PRIVATE_KEY"))


def _signer(domain: str | None, selector: str | None, private_key: str | None) -> DKIMSigner | None:
    values = {"DKIM_DOMAIN": (domain or "").strip(), "DKIM_SELECTOR": (selector or "").strip(),
              "DKIM_PRIVATE_KEY": (private_key or "").strip()}
    if not any(values.values()):
        return None
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise _error(f"{', '.join(missing)} manque(nt) : DKIM_DOMAIN, DKIM_SELECTOR et DKIM_PRIVATE_KEY vont ensemble.",
                     f"{', '.join(missing)} missing: DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY go together.",
                     missing[0])
    domain_name = _ascii(values["DKIM_DOMAIN"], "DKIM_DOMAIN", "DKIM_DOMAIN", "DKIM_DOMAIN")
    selector_name = _ascii(values["DKIM_SELECTOR"], "DKIM_SELECTOR", "DKIM_SELECTOR", "DKIM_SELECTOR")
    key = _read_key_setting(values["DKIM_PRIVATE_KEY"])
    try:
        return DKIMSigner(domain_name, selector_name, key)
    except DKIMError as exc:  # the key: name the setting in both languages
        raise _error(exc.fr.replace("DKIM : ", "DKIM_PRIVATE_KEY — ", 1),
                     exc.en.replace("DKIM: ", "DKIM_PRIVATE_KEY — ", 1)) from exc
