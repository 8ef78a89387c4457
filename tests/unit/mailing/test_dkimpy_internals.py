"""The dkimpy internals mailing/dkim.py's fast signer is built on (it makes the very header
`dkim.sign` makes by reusing dkimpy's parsing, folding and canonicalisation). They are not dkimpy's
public API, so pyproject.toml pins dkimpy to the versions they were checked against; this test
fails first, naming what changed, if an upgrade moves one of them."""
from __future__ import annotations

import inspect
import re
from importlib.metadata import version

import dkim
from dkim import canonicalization, crypto

DKIMPY = version("dkimpy")


def _changed(what: str) -> str:
    return (f"dkimpy {DKIMPY}: {what} — mailing/dkim.py relies on it (checked with dkimpy 1.1.x); "
            "re-check the fast signer against dkim.sign before moving the pin in pyproject.toml")


def _parameters(function) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_the_functions_the_fast_signer_calls_are_there_with_their_signatures():
    expected = {
        dkim: {"rfc822_parse": ["message"], "fold": ["header", "namelen", "linesep"],
               "select_headers": ["headers", "include_headers"]},
        canonicalization: {"strip_trailing_lines": ["content"], "correct_empty_body": ["content"]},
        crypto: {"parse_pem_private_key": ["data"]},
    }
    for module, functions in expected.items():
        for name, parameters in functions.items():
            function = getattr(module, name, None)
            assert callable(function), _changed(f"{module.__name__}.{name} is gone")
            assert _parameters(function) == parameters, _changed(
                f"{module.__name__}.{name}{inspect.signature(function)} instead of ({', '.join(parameters)})")
    assert issubclass(getattr(dkim, "ParameterError", type(None)), Exception), _changed("dkim.ParameterError is gone")
    assert issubclass(getattr(crypto, "UnparsableKeyError", type(None)), Exception), _changed(
        "dkim.crypto.UnparsableKeyError is gone")
    assert isinstance(getattr(dkim, "RE_BTAG", None), re.Pattern), _changed("dkim.RE_BTAG is gone")


def test_they_still_behave_as_the_fast_signer_expects():
    headers, body = dkim.rfc822_parse(b"From: a@b.test\r\nSubject: x\r\n  y\r\n\r\nbody\r\n")
    assert [tuple(h) for h in headers] == [(b"From", b" a@b.test\r\n"), (b"Subject", b" x\r\n  y\r\n")], _changed(
        "rfc822_parse no longer gives [name, value-with-CRLF] pairs")
    assert body == b"body\r\n", _changed("rfc822_parse changed the body it returns")
    assert dkim.select_headers([(b"From", b"1"), (b"To", b"2"), (b"from", b"3")], [b"from", b"from", b"to"]) == [
        (b"from", b"3"), (b"From", b"1"), (b"To", b"2")
    ], _changed("select_headers picks other fields (RFC 6376 §5.4.2)")
    value = b"v=1; a=rsa-sha256; c=relaxed/relaxed; d=parentalites.test; i=@parentalites.test; q=dns/txt; s=lettre2026"
    assert dkim.fold(value, namelen=14, linesep=b"\r\n") == (
        b"v=1; a=rsa-sha256; c=relaxed/relaxed;\r\n d=parentalites.test; i=@parentalites.test; q=dns/txt; s=lettre2026"
    ), _changed("fold folds elsewhere (72 columns, the field name counted)")
    assert dkim.RE_BTAG.sub(b"\\1", b"v=1; bh=abc; b=SIG+/=") == b"v=1; bh=abc; b=", _changed(
        "RE_BTAG no longer empties b= (keeping the tag as group 1)")
    assert canonicalization.strip_trailing_lines(b"a\r\n\r\n\r\n") == b"a\r\n", _changed("strip_trailing_lines")
    assert canonicalization.correct_empty_body(b"\r\n") == b"", _changed("correct_empty_body")


def test_the_canonicalization_policy_and_the_dkim_class():
    policy = canonicalization.CanonicalizationPolicy.from_c_value(b"relaxed/simple")
    assert policy.to_c_value() == b"relaxed/simple", _changed("CanonicalizationPolicy.to_c_value")
    assert policy.body_algorithm.name == b"simple", _changed("the policy's body_algorithm.name")
    assert policy.canonicalize_headers([(b"Subject", b"  A \r\n  B \r\n")]) == [(b"subject", b"A B\r\n")], _changed(
        "CanonicalizationPolicy.canonicalize_headers (relaxed)")
    signer = dkim.DKIM(b"From: a@b.test\r\n\r\nx\r\n", signature_algorithm=b"ed25519-sha256")
    assert [tuple(h) for h in signer.headers] == [(b"From", b" a@b.test\r\n")], _changed("DKIM(...).headers")
    sign = inspect.signature(dkim.DKIM.sign).parameters
    assert {"selector", "domain", "privkey", "canonicalize", "include_headers"} <= set(sign), _changed(
        f"DKIM.sign{inspect.signature(dkim.DKIM.sign)}")
