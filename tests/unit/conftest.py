"""The unit tier: pure logic, no server at all (no PostgreSQL, Redis, Celery worker, browser, nor an
SMTP server, not even one in this process). It passes with those servers out of reach:

    TEST_PG_ADMIN_URL=postgresql://postgres@127.0.0.1:1/postgres \\
    TEST_REDIS_URL=redis://127.0.0.1:2/0 .venv/bin/pytest tests/unit

Two guards keep it so. A test that asks for a fixture of the real stack (tests/stack.py) stops the
collection. While a unit test runs (setup, call, teardown), a TCP connection to anything but a
loopback ephemeral port (a server the test started itself) fails the test, and so does any
PostgreSQL connection: libpq opens its own sockets, which Python's `socket` never sees. (In a run
of several tiers, the last test's teardown also closes the real stack: that one is not guarded.)
"""
from __future__ import annotations

import contextlib
import ipaddress
import socket
from pathlib import Path

import psycopg
import pytest

from tests import stack

HERE = Path(__file__).resolve().parent


def _ephemeral_ports() -> range:
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999  # Linux's default range
    return range(low, high + 1)


EPHEMERAL_PORTS = _ephemeral_ports()


class ServerConnectionRefused(ConnectionRefusedError):
    """What a unit test gets instead of a connection to a server."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@contextlib.contextmanager
def no_server_connections():
    """Refuse, and list, every connection to a server while the block runs."""
    attempts: list[str] = []

    def refuse(target: str):
        attempts.append(target)
        raise ServerConnectionRefused(f"a unit test opens no connection to a server (here {target}): "
                                      "move the test to tests/integration/")

    def check(sock: socket.socket, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM:
            host, port = address[0], address[1]
            if not (_loopback(host) and port in EPHEMERAL_PORTS):
                refuse(f"{host}:{port}")

    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def connect(sock, address):
        check(sock, address)
        return real_connect(sock, address)

    def connect_ex(sock, address):
        check(sock, address)
        return real_connect_ex(sock, address)

    def postgresql(*args, **kwargs):
        refuse("PostgreSQL")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(psycopg, "connect", postgresql)
        patch.setattr(psycopg.Connection, "connect", classmethod(postgresql))
        patch.setattr(psycopg.AsyncConnection, "connect", classmethod(postgresql))
        yield attempts


def _guarded(item: pytest.Item):
    """Run one phase of a unit test under the guard; fail it if it tried to reach a server, even
    when the code under test caught the refusal."""
    with no_server_connections() as attempts:
        result = yield
    if attempts:
        pytest.fail(f"{item.nodeid} tried to connect to {', '.join(attempts)}: the unit tier has no "
                    "server; move the test to tests/integration/", pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    return (yield from _guarded(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    if nextitem is None and any(not other.path.is_relative_to(HERE) for other in item.session.items):
        # The run's last teardown also finalizes the session's fixtures, among them the real
        # stack's that the other tiers set up: dropping the run's database is not this test's doing.
        return (yield)
    return (yield from _guarded(item))


def pytest_collection_modifyitems(items):
    uses_the_stack = []
    for item in items:
        if not item.path.is_relative_to(HERE):
            continue
        names = sorted(name for name, definitions in item._fixtureinfo.name2fixturedefs.items()
                       if definitions[-1].func.__module__ == stack.__name__)
        if names:
            uses_the_stack.append(f"{item.nodeid}: {', '.join(names)}")
    if uses_the_stack:
        raise pytest.UsageError("The unit tier has no server. These tests use fixtures of the real stack "
                                "(tests/stack.py) and belong in tests/integration/:\n  "
                                + "\n  ".join(uses_the_stack))
