"""What the HTTP benchmarks share: a free loopback port, the platform in uvicorn, wrk."""

from __future__ import annotations

import re
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_server(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """``uvicorn smartid.asgi:application`` on 127.0.0.1:``port``; returns once it listens."""
    import os

    server = subprocess.Popen(  # noqa: S603 -- our own interpreter and module
        [
            sys.executable, "-m", "uvicorn", "smartid.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--lifespan", "off", "--no-access-log", "--no-proxy-headers",
            "--log-level", "warning",
        ],
        cwd=ROOT,
        env={**os.environ, **env},
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return server
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.1)


def wrk(
    url: str, seconds: int, connections: int, script: Path | None = None
) -> tuple[float, float, float]:
    """Return (requests/s, p99 latency ms, wrk CPU seconds)."""
    args = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        args[1:1] = ["-s", str(script)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p99_match = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99 = 0.0
    if p99_match:
        value, unit = float(p99_match.group(1)), p99_match.group(2)
        p99 = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    if "Non-2xx" in out or "Socket errors" in out:
        print(out, file=sys.stderr)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return rate, p99, cpu
