"""The hosts of the multi-node test and the processes on them (tests/cluster/cluster.sh
made the network namespaces; this module starts, kills and stops what runs inside).

Each host is a network namespace ``sidc-<host>`` with one address on 10.231.0.0/24; a
process runs there through ``ip netns exec`` (which execs the program: the Popen's pid is
the program's). Killing a host kills every process in its namespace (``ip netns pids``),
as a machine that loses power takes all its processes with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "sidc-"
SUBNET = "10.231.0"
#: host -> last octet of its address (cluster.sh has the same table).
HOSTS = {
    "db": 10,
    "cache": 11,
    "web1": 21,
    "web2": 22,
    "worker1": 31,
    "worker2": 32,
    "beat": 33,
    "lb": 40,
    "client": 50,
}
WEB_PORT = 8000


def address(host: str) -> str:
    return f"{SUBNET}.{HOSTS[host]}"


def namespace(host: str) -> str:
    return PREFIX + host


def namespace_pids(host: str) -> list[int]:
    """Every process whose network namespace is ``host``'s."""
    listed = subprocess.run(
        ["ip", "netns", "pids", namespace(host)], capture_output=True, text=True, check=False
    ).stdout
    return [int(pid) for pid in listed.split()]


def in_namespace(host: str, argv: list[str]) -> list[str]:
    return ["ip", "netns", "exec", namespace(host), *argv]


@dataclass
class Node:
    """One long-running program on one host, restartable, its output in ``log``."""

    name: str
    host: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    _out: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.starts += 1
        self._out = self.log.open("ab")
        self._out.write(f"--- start {self.starts} at {time.time():.3f}\n".encode())
        self._out.flush()
        self.process = subprocess.Popen(  # noqa: S603 -- our own programs, fixed arguments
            in_namespace(self.host, self.argv),
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the test does not reach it directly
        )

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.kill(self.pid, signum)

    def kill_host(self) -> int:
        """SIGKILL every process of this node's host; returns how many there were."""
        pids = namespace_pids(self.host)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None:
            self.process.wait(timeout=10)
        return len(pids)

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if self._out is not None:
            self._out.close()


def wait_until(
    what: str, ready: Callable[[], bool], timeout: float, node: Node | None = None
) -> None:
    """Poll ``ready`` every 0.2 s; RuntimeError after ``timeout`` s or if ``node`` exits."""
    deadline = time.monotonic() + timeout
    while not ready():
        if node is not None and not node.alive():
            raise RuntimeError(f"{what}: {node.name} exited (log: {node.log})")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: not ready after {timeout:.0f} s")
        time.sleep(0.2)
