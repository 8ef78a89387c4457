"""Postfix's `smtp-sink` and `smtp-source`, taken from Debian's postfix package without installing
the daemon: `apt-get download postfix`, `dpkg -x`, then run with LD_LIBRARY_PATH on its libraries
(and `-u nobody` for smtp-sink when run as root)."""
from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

CACHE = Path(__file__).resolve().parent / ".postfix"


def ensure_tools() -> tuple[Path, dict[str, str]]:
    root = CACHE / "root"
    sbin = root / "usr" / "sbin"
    if not (sbin / "smtp-sink").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "postfix"], cwd=CACHE, check=True, capture_output=True)
        deb = sorted(CACHE.glob("postfix_*.deb"))[-1]
        subprocess.run(["dpkg", "-x", str(deb), str(root)], check=True)
    env = {**os.environ, "LD_LIBRARY_PATH": str(root / "usr" / "lib" / "postfix")}
    return sbin, env


class Sink:
    """smtp-sink on a loopback port; counts the messages it accepted (from its -c counters)."""

    def __init__(self, port: int, backlog: int = 256):
        self.sbin, self.env = ensure_tools()
        self.port = port
        self.log = CACHE / f"sink-{port}.log"
        args = [str(self.sbin / "smtp-sink"), "-c", f"127.0.0.1:{port}", str(backlog)]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "nobody"]
        with open(self.log, "wb") as output:  # the child writes to its own copy of the descriptor
            self.process = subprocess.Popen(args, env=self.env, stdout=output, stderr=subprocess.STDOUT)
        time.sleep(0.3)

    def count(self) -> int:
        found = re.findall(rb"mesg=(\d+)", self.log.read_bytes()[-4096:])
        return int(found[-1]) if found else 0

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def smtp_source(port: int, messages: int, size: int, sessions: int) -> tuple[float, list[str]]:
    """Postfix's C load generator: `messages` of `size` bytes over `sessions` reused connections."""
    sbin, env = ensure_tools()
    args = [str(sbin / "smtp-source"), "-d", "-s", str(sessions), "-m", str(messages), "-l", str(size),
            "-f", "bench@parentalites.test", "-t", "sink@parentalites.test", f"127.0.0.1:{port}"]
    started = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started, args
