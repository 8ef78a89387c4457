"""DKIM on the real mail-out: every personal copy leaves signed, and each signature verifies with
dkimpy (the signer itself is checked in tests/unit/mailing/test_dkim.py)."""
from __future__ import annotations


def test_every_letter_of_a_mailout_leaves_signed(db, world, smtp, captured_jobs, monkeypatch, tmp_path,
                                                 reread_settings):
    """DKIM on: the mail-out signs each personal copy; each signature verifies with dkimpy."""
    import dkim
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from mailing.dkim import public_key_record
    from newsletter import mailout
    from tests.integration.helpers import compose, letters, people
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    (tmp_path / "dkim.pem").write_bytes(pem)
    monkeypatch.setenv("DKIM_DOMAIN", "parentalites.test")
    monkeypatch.setenv("DKIM_SELECTOR", "lettre")
    monkeypatch.setenv("DKIM_PRIVATE_KEY", str(tmp_path / "dkim.pem"))
    reread_settings()
    record = public_key_record(pem)
    record = record.encode() if isinstance(record, str) else record
    people(db, 3)
    issue = compose(db, world)
    mailout.request_send(db, issue)
    db.commit()
    mailout.start(db, issue.id)
    assert mailout.run_batch(db, issue.id) == 3
    sent = letters(smtp)
    assert len(sent) == 3
    for received in sent:
        assert received.data.startswith(b"DKIM-Signature:")
        assert dkim.verify(received.data, dnsfunc=lambda name, timeout=5: record)
