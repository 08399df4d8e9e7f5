"""Devices that answer in threads: approve (or refuse) whatever reaches them, until stopped."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from device.app import DeviceApp
from device.errors import DeviceError
from tests.personas import PIN1, PIN2


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
