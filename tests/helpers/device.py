"""Reference-app devices wired to the fake App API server of tests/device/fakeserver.py."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from device import DeviceApp, MemoryStore
from device.state import StateStore
from signing.engine import KdfParams

#: scrypt parameters that cost microseconds; production uses the engine's default.
CHEAP_KDF = KdfParams(n=2, r=1, p=1)
BASE_URL = "http://127.0.0.1:8000"  # a mock transport: nothing leaves the process


def make_app(
    client: httpx.Client,
    store: StateStore | None = None,
    *,
    clock: Callable[[], float] = time.time,
    certificate_wait: float = 60.0,
) -> DeviceApp:
    """A device with small keys (the fake server asks for 1024 bits) and a cheap KDF."""
    return DeviceApp(
        client,
        store or MemoryStore(),
        min_key_bits=1024,
        kdf=CHEAP_KDF,
        clock=clock,
        certificate_wait=certificate_wait,
    )
