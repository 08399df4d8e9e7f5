"""A relying party written from rp-api.md (not from our serializers) runs every flow."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from api.rp.models import RelyingParty
from pki import services as pki
from tests.helpers.answering import Answering
from tests.helpers.platform import Platform
from tests.personas import ALICE, RP_A

HASHES = {"SHA256": hashes.SHA256(), "SHA384": hashes.SHA384(), "SHA512": hashes.SHA512()}
PEOPLE = [ALICE.semantics_identifier, "PNOLV-050405-10009", "PNOLT-40504040001"]


def spec_vc(raw_hash: bytes) -> str:
    """rp-api.md §2: uint16_be(SHA256(hash)[-2:]) mod 10000, four digits."""
    return f"{int.from_bytes(hashlib.sha256(raw_hash).digest()[-2:], 'big') % 10000:04d}"


def start(base: str, path: str, body: dict[str, Any]) -> str:
    response = httpx.post(f"{base}/v2/{path}", json=body, timeout=30)
    assert response.status_code == 200, response.text
    session_id = response.json()["sessionID"]
    assert len(session_id) == 36
    return str(session_id)


def poll(base: str, session_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{base}/v2/session/{session_id}", params={"timeoutMs": 5000}, timeout=30
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        if body["state"] == "COMPLETE":
            return body
        assert body == {"state": "RUNNING"}
    raise AssertionError("the session never completed")


def verify_chain(cert: x509.Certificate, platform: Platform) -> None:
    issuer = pki.ca_certificate(platform.hierarchy[1])
    key = issuer.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert cert.signature_hash_algorithm is not None
    key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(cert.signature_hash_algorithm))
    assert cert.issuer == issuer.subject


@pytest.mark.parametrize("semantics_id", PEOPLE)
def test_authentication_signature_and_choice(
    platform: Platform, rp_a: RelyingParty, answering: Answering, semantics_id: str
) -> None:
    app, account = platform.registered(semantics_id)
    answering.start(app)
    base = platform.url
    rp = {"relyingPartyUUID": RP_A.uuid, "relyingPartyName": "bank123"}  # name is case-insensitive

    for hash_type in ("SHA256", "SHA512"):
        raw = hashlib.new(hash_type.lower(), b"to be signed " + semantics_id.encode()).digest()
        body = {
            **rp,
            "certificateLevel": "QUALIFIED",
            "hash": base64.b64encode(raw).decode(),
            "hashType": hash_type,
            "allowedInteractionsOrder": [
                {"type": "confirmationMessage", "displayText200": "Log in to Bank 123?"},
                {"type": "displayTextAndPIN", "displayText60": "Log in?"},
            ],
        }
        status = poll(base, start(base, f"authentication/etsi/{semantics_id}", body))
        assert status["result"] == {"endResult": "OK", "documentNumber": account.document_number}
        assert status["interactionFlowUsed"] == "confirmationMessage"
        assert status["signature"]["algorithm"] == f"{hash_type.lower()}WithRSAEncryption"
        cert = x509.load_der_x509_certificate(base64.b64decode(status["cert"]["value"]))
        assert status["cert"]["certificateLevel"] == "QUALIFIED"
        public = cert.public_key()
        assert isinstance(public, rsa.RSAPublicKey)
        public.verify(
            base64.b64decode(status["signature"]["value"]),
            raw,
            padding.PKCS1v15(),
            Prehashed(HASHES[hash_type]),
        )
        verify_chain(cert, platform)
        assert cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == semantics_id
        identity = semantics_id.split("-", 1)  # split on the FIRST hyphen only
        assert identity[0][3:] == cert.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value
        # The code the app showed is the spec's code of this hash.
        assert answering.seen[-1].verification_code == spec_vc(raw)

    raw = hashlib.sha384(b"contract").digest()
    sign = {
        **rp,
        "hash": base64.b64encode(raw).decode(),
        "hashType": "SHA384",
        "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Sign it?"}],
    }
    status = poll(base, start(base, f"signature/document/{account.document_number}", sign))
    assert status["result"]["endResult"] == "OK"
    cert = x509.load_der_x509_certificate(base64.b64decode(status["cert"]["value"]))
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.content_commitment  # the signing certificate
    public = cert.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    public.verify(
        base64.b64decode(status["signature"]["value"]),
        raw,
        padding.PKCS1v15(),
        Prehashed(hashes.SHA384()),
    )

    status = poll(base, start(base, f"certificatechoice/etsi/{semantics_id}", {**rp}))
    assert set(status) == {"state", "result", "cert"}
    assert status["result"] == {"endResult": "OK", "documentNumber": account.document_number}
    chosen = x509.load_der_x509_certificate(base64.b64decode(status["cert"]["value"]))
    assert chosen == cert
