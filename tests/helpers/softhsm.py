"""SoftHSM2 tokens for the PKCS#11 key-store tests (the ``softhsm`` fixture makes them)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pki.keystore import Pkcs11KeyStore

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
SO_PIN = "12345678"
USER_PIN = "4711-test"


@dataclass(frozen=True)
class SoftHSM:
    module: str
    token_dir: Path
    pin: str
    #: The main test token.
    token: str = "smartid-test"
    #: Another token, hence another KEK.
    other_token: str = "smartid-other"
    #: A token only the wrong-PIN test logs in to (a login covers the whole process).
    pin_token: str = "smartid-pin"

    def store(self, token: str | None = None, pin: str | None = None) -> Pkcs11KeyStore:
        return Pkcs11KeyStore(
            module=self.module, token_label=token or self.token, pin=pin or self.pin
        )


def softhsm_missing() -> str | None:
    if shutil.which("softhsm2-util") is None:
        return "softhsm2-util is not on PATH (apt-get install softhsm2)"
    if not Path(SOFTHSM_MODULE).is_file():
        return f"the SoftHSM2 module {SOFTHSM_MODULE} is missing (apt-get install softhsm2)"
    return None
