"""The reference app's command line against the running server for RP API v3 device links,
and the relying party's checks of what it receives.

``run_cli`` runs ``python -m device`` in process (:func:`device.__main__.main` with a real
HTTP client to the live server), with a state file made by :func:`file_device`.
:func:`rp_checks_acsp` is what a relying party does with a completed ACSP_V2 session: it
rebuilds the payload from what it sent and what the status reports, and verifies the
RSASSA-PSS signature against the certificate.
"""

from __future__ import annotations

import base64
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
from signing.models import SplitKey, Transaction
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


def status_from_rows(session: RpSession) -> dict[str, Any]:
    """The v3 status fields the relying party would read, built from the rows (until the
    v3 status endpoint answers them over HTTP)."""
    tx = Transaction.objects.filter(group=session.pk).select_related("account").get()
    state = "COMPLETE" if tx.state != Transaction.State.PENDING else "RUNNING"
    status: dict[str, Any] = {"state": state, "result": {"endResult": tx.result}}
    if tx.refused_interaction:
        status["result"]["details"] = {"interaction": tx.refused_interaction}
    if tx.result == Transaction.Result.OK and tx.signature is not None:
        purpose = "AUTH" if tx.kind == Transaction.Kind.AUTHENTICATION else "SIGN"
        key = SplitKey.objects.select_related("certificate").get(
            account=tx.account, purpose=purpose
        )
        assert key.certificate is not None
        params = tx.protocol_parameters
        status["cert"] = {"value": base64.b64encode(bytes(key.certificate.der)).decode()}
        status["interactionTypeUsed"] = tx.interaction_used
        status["signature"] = {
            "value": base64.b64encode(bytes(tx.signature)).decode(),
            "flowType": tx.flow_type,
            "serverRandom": params.get("serverRandom"),
            "userChallenge": tx.user_challenge,
            "signatureAlgorithmParameters": {"hashAlgorithm": params.get("hashAlgorithm")},
        }
    return status
