"""The reference app's command line against the running server for RP API v3 device links,
and a relying party that starts sessions, builds their links and checks what it receives.

``run_cli`` runs ``python -m device`` in process (:func:`device.__main__.main` with a real
HTTP client to the live server), with a state file made by :func:`file_device`.
:class:`RpLink` is a device-link session started over ``/v3/`` and the links the relying
party computes from its answer (docs/spec/rp-api.md §5). :func:`rp_checks_acsp` is what a
relying party does with a completed ACSP_V2 session: it rebuilds the payload from what it
sent and what the status reports, and verifies the RSASSA-PSS signature against the
certificate.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from accounts.models import Account
from api.rp.models import RpSession
from device.__main__ import main
from device.app import DeviceApp
from device.state import FileStore
from signing import engine
from tests.helpers.platform import CHEAP_KDF, Platform
from tests.helpers.v3links import HASHES
from tests.personas import ALICE, PIN1, PIN2, Citizen


@dataclass(frozen=True)
class Ran:
    code: int
    out: str
    err: str

    def line(self, prefix: str) -> str | None:
        """The first output line that starts with ``prefix`` (stripped), if any."""
        return next(
            (x.strip() for x in self.out.splitlines() if x.strip().startswith(prefix)), None
        )


def file_device(platform: Platform, path: Path, person: Citizen | str = ALICE) -> Account:
    """Register ``person`` on a device whose state is the file ``path`` (for the CLI)."""
    with httpx.Client(base_url=platform.url, timeout=60) as client:
        app = DeviceApp(client, FileStore(path), min_key_bits=1024, kdf=CHEAP_KDF)
        result = app.register(platform.ticket(person), PIN1, PIN2)
    return Account.objects.get(document_number=result.document_number)


def run_cli(platform: Platform, capsys: pytest.CaptureFixture[str], state: Path, *args: str) -> Ran:
    """``python -m device COMMAND --state STATE ARGS`` against the live server."""
    command, *rest = args
    argv: Sequence[str] = [command, "--state", str(state), *rest]
    capsys.readouterr()
    with httpx.Client(base_url=platform.url, timeout=60) as client:
        code = main(argv, client=client)
    captured = capsys.readouterr()
    return Ran(code, captured.out, captured.err)


@dataclass(frozen=True)
class RpLink:
    """A v3 session as its relying party sees it: the request body it sent and the answer
    (for a device link the DeviceLinkResponse: sessionID, sessionToken, sessionSecret,
    deviceLinkBase, from which :meth:`link` builds the links)."""

    body: dict[str, Any]
    answer: dict[str, Any]
    session_type: str  # auth | sign | cert

    @classmethod
    def start(cls, base: str, path: str, body: dict[str, Any]) -> RpLink:
        response = httpx.post(f"{base}/v3/{path}", json=body, timeout=30)
        assert response.status_code == 200, response.text
        if "certificate-choice/" in path:
            session_type = "cert"
        else:
            session_type = "auth" if path.startswith("authentication/") else "sign"
        return cls(body, response.json(), session_type)

    @property
    def session_id(self) -> str:
        return str(self.answer["sessionID"])

    @property
    def secret(self) -> bytes:
        return base64.b64decode(self.answer["sessionSecret"])

    def link(self, link_type: str, *, elapsed: int = 0, secret: bytes | None = None) -> str:
        """The link the relying party shows (QR, ``elapsed`` seconds after the answer) or
        opens (Web2App, App2App); another ``secret`` makes a forged one."""
        unprotected = engine.unprotected_link(
            base=self.answer["deviceLinkBase"],
            link_type=link_type,
            session_token=self.answer["sessionToken"],
            session_type=self.session_type,
            lang="eng",
            elapsed_seconds=elapsed if link_type == "QR" else None,
        )
        params = self.body.get("signatureProtocolParameters", {})
        payload = engine.authcode_payload(
            scheme=engine.SCHEME_DEMO,
            signature_protocol=self.body.get("signatureProtocol", ""),
            protocol_value=params.get("rpChallenge") or params.get("digest") or "",
            rp_name=self.body["relyingPartyName"],
            brokered_rp_name="",
            interactions=self.body.get("interactions", ""),
            initial_callback_url=(
                "" if link_type == "QR" else self.body.get("initialCallbackUrl") or ""
            ),
            unprotected_link=unprotected,
        )
        return engine.device_link(unprotected, engine.auth_code(secret or self.secret, payload))

    def status(self, base: str, timeout_ms: int = 1000) -> dict[str, Any]:
        return rp_status(base, self.session_id, timeout_ms)

    def finished(self, base: str, seconds: float = 30) -> dict[str, Any]:
        return rp_finished(base, self.session_id, seconds)

    def check_acsp(self, status: dict[str, Any]) -> None:
        """Verify a completed ACSP_V2 session as the relying party does (see the module)."""
        params = self.body["signatureProtocolParameters"]
        signature = status["signature"]
        flow = signature["flowType"]
        same_device = flow in ("Web2App", "App2App")
        payload = engine.acsp_v2_payload(
            scheme=engine.SCHEME_DEMO,
            server_random=signature["serverRandom"],
            rp_challenge=params["rpChallenge"],
            user_challenge=signature["userChallenge"],
            rp_name=self.body["relyingPartyName"],
            brokered_rp_name="",
            interactions=self.body["interactions"],
            interaction_type_used=status["interactionTypeUsed"],
            initial_callback_url=self.body["initialCallbackUrl"] if same_device else "",
            flow_type=flow,
        )
        assert signature["signatureAlgorithm"] == "rsassa-pss"
        hash_name = signature["signatureAlgorithmParameters"]["hashAlgorithm"]
        assert hash_name == params["signatureAlgorithmParameters"]["hashAlgorithm"]
        algorithm, pss = _pss(hash_name)
        _certificate_key(status).verify(
            base64.b64decode(signature["value"]), payload.encode(), pss, algorithm
        )

    def check_raw_digest(self, status: dict[str, Any]) -> None:
        """Verify a completed RAW_DIGEST_SIGNATURE (PSS) over the digest it sent."""
        params = self.body["signatureProtocolParameters"]
        signature = status["signature"]
        algorithm, pss = _pss(signature["signatureAlgorithmParameters"]["hashAlgorithm"])
        _certificate_key(status).verify(
            base64.b64decode(signature["value"]),
            base64.b64decode(params["digest"]),
            pss,
            Prehashed(algorithm),
        )


def _pss(name: str) -> tuple[hashes.HashAlgorithm, padding.PSS]:
    algorithm = HASHES[name]()
    return algorithm, padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)


def rp_checks_acsp(session: RpSession, status: dict[str, Any]) -> None:
    """Verify an ACSP_V2 signature as the relying party does: its own rpChallenge, name,
    interactions and callback URL; serverRandom, userChallenge, flowType and the
    interaction used from the status; the key from the certificate."""
    signature = status["signature"]
    flow = signature["flowType"]
    payload = engine.acsp_v2_payload(
        scheme=engine.SCHEME_DEMO,
        server_random=signature["serverRandom"],
        rp_challenge=session.protocol_parameters["rpChallenge"],
        user_challenge=signature["userChallenge"],
        rp_name=session.relying_party.name,
        brokered_rp_name="",
        interactions=session.interactions,
        interaction_type_used=status["interactionTypeUsed"],
        initial_callback_url=(
            session.initial_callback_url if flow in ("Web2App", "App2App") else ""
        ),
        flow_type=flow,
    )
    algorithm, pss = _pss(signature["signatureAlgorithmParameters"]["hashAlgorithm"])
    public = _certificate_key(status)
    public.verify(base64.b64decode(signature["value"]), payload.encode(), pss, algorithm)


def rp_checks_raw_digest(session: RpSession, status: dict[str, Any]) -> None:
    """Verify a RAW_DIGEST_SIGNATURE (PSS) over the digest the relying party sent."""
    signature = status["signature"]
    algorithm, pss = _pss(signature["signatureAlgorithmParameters"]["hashAlgorithm"])
    digest = base64.b64decode(session.protocol_parameters["digest"])
    _certificate_key(status).verify(
        base64.b64decode(signature["value"]), digest, pss, Prehashed(algorithm)
    )


def _certificate_key(status: dict[str, Any]) -> rsa.RSAPublicKey:
    der = base64.b64decode(status["cert"]["value"])
    public = x509.load_der_x509_certificate(der).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    return public


def rp_status(base: str, session_id: object, timeout_ms: int = 1000) -> dict[str, Any]:
    """``GET /v3/session/{id}`` after a long poll of ``timeout_ms`` (1000 at the least)."""
    params = {"timeoutMs": timeout_ms}
    response = httpx.get(f"{base}/v3/session/{session_id}", params=params, timeout=30)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def rp_finished(base: str, session_id: object, seconds: float = 30) -> dict[str, Any]:
    """Poll the status until COMPLETE."""
    deadline = time.monotonic() + seconds
    while (body := rp_status(base, session_id, 2000))["state"] == "RUNNING":
        assert time.monotonic() < deadline, "the session never completed"
    return body
