"""The bounce mailbox over IMAP against a real local server (issue 13, items 16 and 17): the server
certificate is verified before the login leaves, plain IMAP only with STARTTLS or an explicit
opt-in, a wrong password, a missing folder or a server that never answers is told to the editors
once, and the poll fails instead of passing for a quiet one.

The server is written here: a thread speaking just enough IMAP (CAPABILITY, STARTTLS, LOGIN,
SELECT, UID SEARCH, LOGOUT) over TLS, with certificates made for the test by `cryptography`."""
from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import socketserver
import ssl
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import func, select

from mailing.models import OutboundEmail
from subscribers import bounces
from subscribers.models import MailboxProblem
from tests.integration.helpers import login

# --- Certificates -------------------------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(subject: str, hosts: list[str], issuer: tuple | None = None, ca: bool = False):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    issuer_cert, issuer_key = issuer or (None, key)
    builder = (x509.CertificateBuilder().subject_name(_name(subject))
               .issuer_name(issuer_cert.subject if issuer_cert else _name(subject))
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if hosts:
        names = [x509.IPAddress(ipaddress.ip_address(h)) if h[0].isdigit() else x509.DNSName(h) for h in hosts]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False),
            critical=True)
    return builder.sign(issuer_key, hashes.SHA256()), key


def _write(directory: Path, name: str, cert, key) -> tuple[Path, Path]:
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A private CA, a server certificate it signed for 127.0.0.1, one it signed for another host,
    and an unrelated self-signed one for 127.0.0.1."""
    directory = tmp_path_factory.mktemp("pki")
    ca_cert, ca_key = _certificate("Parentalites test CA", [], ca=True)
    paths = {"ca": _write(directory, "ca", ca_cert, ca_key)[0]}
    paths["server"] = _write(directory, "server", *_certificate("127.0.0.1", ["127.0.0.1", "localhost"],
                                                                (ca_cert, ca_key)))
    paths["elsewhere"] = _write(directory, "elsewhere", *_certificate("imap.ailleurs.test", ["imap.ailleurs.test"],
                                                                      (ca_cert, ca_key)))
    paths["unrelated"] = _write(directory, "unrelated", *_certificate("127.0.0.1", ["127.0.0.1", "localhost"]))
    return paths


# --- A minimal IMAP server ----------------------------------------------------------------------

class FakeImapServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, certificate: tuple[Path, Path] | None, *, implicit_tls: bool = True, starttls: bool = False,
                 password: str = "secret", folders: tuple[str, ...] = ("INBOX",), silent: bool = False,
                 broken_search: bool = False):
        super().__init__(("127.0.0.1", 0), ImapHandler)
        self.context = None
        if certificate:
            self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.context.load_cert_chain(*map(str, certificate))
        self.implicit_tls, self.starttls, self.password = implicit_tls, starttls, password
        self.folders, self.silent, self.broken_search = folders, silent, broken_search
        self.logins: list[tuple[str, str, bool]] = []   # user, password, over TLS
        self.commands: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.server_address[1]

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class ImapHandler(socketserver.StreamRequestHandler):
    server: FakeImapServer
    timeout = 10

    def setup(self):
        if self.server.implicit_tls and self.server.context:
            try:
                self.request = self.server.context.wrap_socket(self.request, server_side=True)
            except (ssl.SSLError, OSError):
                self.request = None  # the client refused our certificate: nothing more is said
        self.tls = self.server.implicit_tls and self.request is not None
        if self.request is not None:
            super().setup()

    def handle(self):
        if self.request is None:
            return
        if self.server.silent:
            self.request.recv(1024)  # accept and never answer
            return
        self.send("* OK fake IMAP ready")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            tag, _, rest = line.decode().rstrip("\r\n").partition(" ")
            command, _, args = rest.partition(" ")
            command = command.upper()
            self.server.commands.append(command)
            if command == "CAPABILITY":
                extra = " STARTTLS" if self.server.starttls and not self.tls else ""
                self.send(f"* CAPABILITY IMAP4rev1{extra} AUTH=PLAIN")
                self.send(f"{tag} OK CAPABILITY completed")
            elif command == "STARTTLS" and self.server.starttls:
                self.send(f"{tag} OK Begin TLS negotiation now")
                try:
                    self.request = self.server.context.wrap_socket(self.request, server_side=True)
                except (ssl.SSLError, OSError):
                    return
                self.tls = True
                self.rfile = self.request.makefile("rb")
                self.wfile = self.request.makefile("wb", buffering=0)
            elif command == "LOGIN":
                user, password = (part.strip('"') for part in args.split(" ", 1))
                self.server.logins.append((user, password, self.tls))
                if password == self.server.password:
                    self.send(f"{tag} OK LOGIN completed")
                else:
                    self.send(f"{tag} NO [AUTHENTICATIONFAILED] Invalid credentials")
            elif command == "SELECT":
                if args.strip('"') in self.server.folders:
                    self.send("* 0 EXISTS")
                    self.send(f"{tag} OK [READ-WRITE] SELECT completed")
                else:
                    self.send(f"{tag} NO [NONEXISTENT] Unknown Mailbox")
            elif command == "UID" and self.server.broken_search:
                self.send(f"{tag} BAD [SERVERBUG] search is broken today")
            elif command == "UID":
                self.send("* SEARCH")
                self.send(f"{tag} OK SEARCH completed")
            elif command == "LOGOUT":
                self.send("* BYE")
                self.send(f"{tag} OK LOGOUT completed")
                return
            else:
                self.send(f"{tag} BAD unknown command")

    def send(self, text: str) -> None:
        self.wfile.write(text.encode() + b"\r\n")


def _ingest(server: FakeImapServer, scheme: str = "imaps", **options) -> int:
    return bounces.ingest_imap(None, "127.0.0.1", server.port, "retours", "secret", "INBOX", scheme == "imaps",
                               timeout=options.pop("timeout", 5), **options)


# --- Certificates checked before the login leaves ----------------------------------------------

def test_the_login_is_not_sent_to_a_server_with_an_unrelated_certificate(certificates):
    with FakeImapServer(certificates["unrelated"]) as server, pytest.raises(bounces.MailboxError) as error:
        _ingest(server)
    assert error.value.problem == "tls" and "certificat" in error.value.detail
    assert server.logins == [] and "secret" not in error.value.detail


def test_the_login_is_sent_when_the_servers_ca_is_configured(certificates):
    with FakeImapServer(certificates["server"]) as server:
        assert _ingest(server, ca_file=certificates["ca"]) == 0
    assert server.logins == [("retours", "secret", True)]


def test_a_certificate_for_another_host_is_refused_even_from_the_configured_ca(certificates):
    with FakeImapServer(certificates["elsewhere"]) as server, pytest.raises(bounces.MailboxError) as error:
        _ingest(server, ca_file=certificates["ca"])
    assert error.value.problem == "tls" and server.logins == []


def test_plain_imap_needs_starttls_unless_explicitly_allowed(certificates):
    with FakeImapServer(None, implicit_tls=False) as server:
        with pytest.raises(bounces.MailboxError) as error:
            _ingest(server, "imap")
        assert error.value.problem == "tls" and "STARTTLS" in error.value.detail and server.logins == []
        assert _ingest(server, "imap", allow_plaintext=True) == 0
    assert server.logins == [("retours", "secret", False)]

    with FakeImapServer(certificates["server"], implicit_tls=False, starttls=True) as server:
        assert _ingest(server, "imap", ca_file=certificates["ca"]) == 0
    assert server.logins == [("retours", "secret", True)]  # upgraded before the login
    with (FakeImapServer(certificates["unrelated"], implicit_tls=False, starttls=True) as server,
          pytest.raises(bounces.MailboxError)):
        _ingest(server, "imap")
    assert server.logins == []


# --- A mailbox that cannot be read: told once, the poll fails, the poll ends --------------------

@pytest.fixture
def imap_poll(db, world, monkeypatch, reread_settings, certificates):
    def configure(server: FakeImapServer, password: str = "secret", folder: str = "INBOX", timeout: str = "5"):
        monkeypatch.setenv("BOUNCE_IMAP_URL", f"imaps://retours:{password}@127.0.0.1:{server.port}/{folder}")
        monkeypatch.setenv("BOUNCE_IMAP_CA_FILE", str(certificates["ca"]))
        monkeypatch.setenv("BOUNCE_IMAP_TIMEOUT", timeout)
        monkeypatch.delenv("BOUNCE_MAILDIR", raising=False)
        reread_settings()
    return configure


def _notices(db) -> list[OutboundEmail]:
    return list(db.scalars(select(OutboundEmail).where(OutboundEmail.template == "bounce_mailbox_failing")))


def test_a_refused_login_is_told_to_the_editors_once_and_fails_the_poll(db, client, imap_poll, certificates):
    from tasks.bounces import MailboxUnavailable, poll
    with FakeImapServer(certificates["server"]) as server:
        imap_poll(server, password="ancien-mot-de-passe")
        for _ in range(3):
            with pytest.raises(MailboxUnavailable, match="imap: login"):
                poll()
        assert len(server.logins) == 3
    db.expire_all()
    problem = db.get(MailboxProblem, "imap")
    assert problem.problem == "login" and "refuse l'identifiant « retours »" in problem.detail
    assert "ancien-mot-de-passe" not in problem.detail
    [notice] = _notices(db)  # one editor in the world, told once
    assert notice.to_addr == "redaction@reaap.test" and "ne sont plus relevés" in notice.subject
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get("/redaction/abonnes/supprimes").get_data(as_text=True)
    assert "ne peut plus être lue" in page and "refuse l&#39;identifiant" in page

    # Fixed: the next poll succeeds and forgets the problem; a new one would be told again.
    with FakeImapServer(certificates["server"]) as server:
        imap_poll(server)
        assert poll() == {"imap": 0}
    db.expire_all()
    assert db.get(MailboxProblem, "imap") is None


def test_a_missing_folder_is_told_to_the_editors(db, imap_poll, certificates):
    from tasks.bounces import MailboxUnavailable, poll
    with FakeImapServer(certificates["server"]) as server:
        imap_poll(server, folder="Retours")
        with pytest.raises(MailboxUnavailable, match="imap: folder"):
            poll()
    db.expire_all()
    assert db.get(MailboxProblem, "imap").problem == "folder"
    assert "« Retours » n'existe pas" in db.get(MailboxProblem, "imap").detail
    assert len(_notices(db)) == 1


def test_a_server_that_never_answers_ends_the_poll_by_its_timeout(db, imap_poll, certificates):
    from tasks.bounces import MailboxUnavailable, poll
    with FakeImapServer(certificates["server"], silent=True) as server:
        imap_poll(server, timeout="1")
        with pytest.raises(MailboxUnavailable, match="imap: timeout"):
            poll()
    db.expire_all()
    assert db.get(MailboxProblem, "imap").problem == "timeout"
    assert db.scalar(select(func.count(OutboundEmail.id))) == 1


def test_nothing_listens_is_a_network_problem():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(bounces.MailboxError) as error:
        bounces.ingest_imap(None, "127.0.0.1", port, "retours", "secret", timeout=2)
    assert error.value.problem == "network"


def test_a_command_the_server_refuses_is_a_mailbox_problem_not_a_crash(certificates):
    with (FakeImapServer(certificates["server"], broken_search=True) as server,
          pytest.raises(bounces.MailboxError) as error):
        _ingest(server, ca_file=certificates["ca"])
    assert error.value.problem == "protocol" and "a refusé une commande" in error.value.detail
