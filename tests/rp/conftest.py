"""RP API fixtures: relying parties, registered people whose devices answer in threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from api.rp.models import RelyingParty
from device.app import DeviceApp
from device.errors import DeviceError
from tests.signing.conftest import PIN1, PIN2, Platform, platform  # noqa: F401 -- fixture

BANK_UUID = "de305d54-75b4-431b-adb2-eb6b9e546014"


@dataclass
class Answering:
    """Devices that approve (or refuse) whatever reaches them, until stopped."""

    refuse: set[str] = field(default_factory=set)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    seen: list[Any] = field(default_factory=list)

    def start(self, app: DeviceApp, *, mode: str = "approve") -> None:
        def loop() -> None:
            while not self.stop.is_set():
                try:
                    for tx in app.pending(timeout_ms=1000):
                        self.seen.append(tx)
                        if mode == "refuse":
                            app.refuse(tx)
                        elif mode == "approve":
                            pin = PIN1 if tx.purpose == "AUTH" else PIN2
                            app.approve(tx, None if tx.kind == "CERTIFICATE_CHOICE" else pin)
                except DeviceError:
                    if self.stop.wait(0.05):
                        return

        thread = threading.Thread(target=loop, daemon=True)
        thread.start()
        self.threads.append(thread)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


@pytest.fixture
def answering() -> Iterator[Answering]:
    devices = Answering()
    yield devices
    devices.close()


@pytest.fixture
def bank(platform: Platform) -> RelyingParty:  # noqa: F811 -- the fixture above
    return RelyingParty.objects.create(
        uuid=BANK_UUID,
        name="BANK123",
        display_name="Bank 123",
        allowed_networks=["127.0.0.1/32", "::1/128"],
        allow_advanced=True,
        can_see_device_ip=True,
    )
