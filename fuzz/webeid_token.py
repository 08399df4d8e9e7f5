"""Fuzz the Web eID login body and token: only TokenValidationError may leave.

The bytes are the body of ``POST /portal/login/web-eid`` (``{"authToken": …, "origin": …,
"challengeNonce": …}``), read as the portal reads it, then validated against a fixed
origin, nonce and the virtual ID-card CA of a fixed seed (the seed token of the corpus is
a valid one, so certificate checks are reached). No OCSP: nothing leaves the process.
"""

from __future__ import annotations

from collections.abc import Mapping

import _harness
import atheris

with atheris.instrument_imports(include=["portal.webeid", "accounts.identifiers"]):
    from demo.virtualcard import CardSpec, VirtualCardAuthority
    from portal import webeid

ORIGIN = "https://eid.example"
NONCE = "ZnV6ei1ub25jZS0wMTIzNDU2Nzg5YWJjZGVmMDEyMzQ1Njc4OQ=="
AUTHORITY = VirtualCardAuthority(seed=b"fuzz/webeid_token.py")
TRUST = webeid.TrustConfig(trusted_cas=(AUTHORITY.certificate,), ocsp=None)


def seed_card() -> object:
    """The card whose token the seed corpus holds (fuzz/corpus/webeid_token/)."""
    return AUTHORITY.card(CardSpec("38001085718", "ALICE", "TAMM"))


def test_one_input(data: bytes) -> None:
    try:
        body = webeid.load_json(data)
        if not isinstance(body, Mapping):
            return
        origin, nonce = body.get("origin"), body.get("challengeNonce")
        report = webeid.ClientReport(
            origin=origin if isinstance(origin, str) else None,
            nonce=nonce if isinstance(nonce, str) else None,
        )
        webeid.validate_token(
            body.get("authToken"),
            origin=ORIGIN,
            nonce=NONCE,
            trust=TRUST,
            clock=lambda: _harness.NOW,
            report=report,
        )
    except webeid.TokenValidationError:
        pass


if __name__ == "__main__":
    _harness.fuzz(test_one_input)
