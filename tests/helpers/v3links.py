"""RP API v3 device-link sessions as rows, their links, and an app's ACSP_V2 answer.

The sessions are built directly with the model, as the RP API v3 endpoints store them
(``api_version=3``, a 24-character token, an 18-byte secret, the parameters and the
interactions string as received); the links are computed with the engine exactly as a
relying party computes them. :func:`confirm_acsp` answers an ACSP_V2 transaction the way
the app must: it builds the payload from the transaction's protocol parameters, signs its
half over HASH(payload) and sends its user challenge (and the digest) with the share.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

from api.rp.models import RelyingParty, RpSession
from device.app import DeviceApp
from device.pins import PIN_MIN_LENGTH
from device.retransmit import key_call, recover
from device.wire import API
from signing import engine
from signing.models import SplitKey, Transaction
from tests.helpers.platform import send_signed

LINK_BASE = "https://smart-id.example/device-link"
CALLBACK = "https://rp.example/callback?state=abc"
SCHEME = engine.SCHEME_DEMO  # every installation but a live one
PIN_SCREEN = [{"type": "displayTextAndPIN", "displayText60": "Log in to Bank 123?"}]
CONFIRMATION = [
    {"type": "confirmationMessage", "displayText200": "Pay 10 EUR to Shop 456?"},
    {"type": "displayTextAndPIN", "displayText60": "Pay 10 EUR?"},
]
_ALNUM = string.ascii_letters + string.digits
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA-256": hashes.SHA256,
    "SHA-384": hashes.SHA384,
    "SHA-512": hashes.SHA512,
    "SHA3-256": hashes.SHA3_256,
    "SHA3-384": hashes.SHA3_384,
    "SHA3-512": hashes.SHA3_512,
}


def interactions_b64(items: list[dict[str, str]]) -> str:
    """The RP's ``interactions``: Base64 of the minified JSON array."""
    return base64.b64encode(json.dumps(items, separators=(",", ":")).encode()).decode()


def _session(rp: RelyingParty, kind: str, **fields: Any) -> RpSession:
    values: dict[str, Any] = {
        "relying_party": rp,
        "kind": kind,
        "api_version": 3,
        "fingerprint": secrets.token_hex(32),
        "certificate_level": "QUALIFIED",
        "flow": RpSession.Flow.DEVICE_LINK,
        "session_token": "".join(secrets.choice(_ALNUM) for _ in range(24)),
        "session_secret": secrets.token_bytes(18),
        "initial_callback_url": CALLBACK,
    }
    values.update(fields)
    return RpSession.objects.create(**values)


def auth_session(
    rp: RelyingParty,
    *,
    target_kind: str = "",
    target: str = "",
    hash_algorithm: str = "SHA-512",
    interactions: list[dict[str, str]] | None = None,
    **fields: Any,
) -> RpSession:
    """An authentication by device link (anonymous unless a target is given)."""
    return _session(
        rp,
        RpSession.Kind.AUTHENTICATION,
        target_kind=target_kind,
        target=target,
        signature_protocol="ACSP_V2",
        protocol_parameters={
            "rpChallenge": base64.b64encode(secrets.token_bytes(32)).decode(),
            "signatureAlgorithm": "rsassa-pss",
            "hashAlgorithm": hash_algorithm,
        },
        interactions=interactions_b64(interactions or PIN_SCREEN),
        **fields,
    )


def sign_session(
    rp: RelyingParty,
    *,
    target_kind: str,
    target: str,
    data: bytes = b"the document",
    hash_algorithm: str = "SHA-256",
    signature_algorithm: str = "rsassa-pss",
    **fields: Any,
) -> RpSession:
    """A RAW_DIGEST_SIGNATURE by device link of HASH(data) (legacy PKCS#1 v1.5 when
    ``signature_algorithm`` is e.g. ``sha256WithRSAEncryption``)."""
    digest = hashes.Hash(HASHES[hash_algorithm]())
    digest.update(data)
    parameters = {"digest": base64.b64encode(digest.finalize()).decode()}
    parameters["signatureAlgorithm"] = signature_algorithm
    if signature_algorithm == "rsassa-pss":
        parameters["hashAlgorithm"] = hash_algorithm
    return _session(
        rp,
        RpSession.Kind.SIGNATURE,
        target_kind=target_kind,
        target=target,
        signature_protocol="RAW_DIGEST_SIGNATURE",
        protocol_parameters=parameters,
        interactions=interactions_b64(CONFIRMATION),
        nonce="n1",
        **fields,
    )


def cert_session(rp: RelyingParty, **fields: Any) -> RpSession:
    """An anonymous certificate choice by device link."""
    return _session(rp, RpSession.Kind.CERTIFICATE_CHOICE, **fields)


SESSION_TYPES = {
    RpSession.Kind.AUTHENTICATION: "auth",
    RpSession.Kind.SIGNATURE: "sign",
    RpSession.Kind.CERTIFICATE_CHOICE: "cert",
}


def link_for(
    session: RpSession,
    link_type: str = "QR",
    *,
    elapsed: int | None = None,
    session_type: str | None = None,
    scheme: str = SCHEME,
    rp_name: str | None = None,
    secret: bytes | None = None,
    lang: str = "eng",
) -> str:
    """The device link the relying party computes (QR: ``elapsed`` defaults to 0)."""
    kind = session_type or SESSION_TYPES[RpSession.Kind(session.kind)]
    unprotected = engine.unprotected_link(
        base=LINK_BASE,
        link_type=link_type,
        session_token=str(session.session_token),
        session_type=kind,
        lang=lang,
        elapsed_seconds=(elapsed or 0) if link_type == "QR" else None,
    )
    protocol = {"auth": "ACSP_V2", "sign": "RAW_DIGEST_SIGNATURE", "cert": ""}[kind]
    params = session.protocol_parameters
    value = {"auth": params.get("rpChallenge", ""), "sign": params.get("digest", "")}.get(kind, "")
    payload = engine.authcode_payload(
        scheme=scheme,
        signature_protocol=protocol,
        protocol_value=str(value),
        rp_name=rp_name or session.relying_party.name,
        brokered_rp_name="",
        interactions=session.interactions if protocol else "",
        initial_callback_url="" if link_type == "QR" else session.initial_callback_url,
        unprotected_link=unprotected,
    )
    code = engine.auth_code(secret or bytes(session.session_secret or b""), payload)
    return engine.device_link(unprotected, code)


def open_link(app: DeviceApp, link: str) -> httpx.Response:
    """``POST /app/v1/device-links`` signed by ``app`` (the raw answer, any status)."""
    return send_signed(
        app, "POST", f"{API}/device-links", json.dumps({"deviceLink": link}).encode()
    )


def get_transaction(app: DeviceApp, tx_id: str) -> dict[str, Any]:
    return app.session.send("GET", f"{API}/transactions/{tx_id}", None, device_id=app.device_id)


@dataclass(frozen=True)
class AcspAnswer:
    """What the app sent and got for an ACSP_V2 confirmation."""

    status: str
    payload: str
    digest: bytes
    verifier: str
    user_challenge: str
    answer: dict[str, Any]


def acsp_payload(tx: dict[str, Any], *, interaction: str, user_challenge: str) -> str:
    """The payload the app builds from the transaction JSON (the app shows, then signs it)."""
    params = tx["protocolParameters"]
    return engine.acsp_v2_payload(
        scheme=params["schemeName"],
        server_random=params["serverRandom"],
        rp_challenge=params["rpChallenge"],
        user_challenge=user_challenge,
        rp_name=params["rpName"],
        brokered_rp_name=params["brokeredRpName"],
        interactions=params["interactions"],
        interaction_type_used=interaction,
        initial_callback_url=params["initialCallbackUrl"],
        flow_type=tx["flowType"],
    )


def confirm_acsp(
    app: DeviceApp,
    tx: dict[str, Any],
    pin: str,
    *,
    interaction: str | None = None,
    send_digest: bool = True,
    digest_override: bytes | None = None,
    payload_override: str | None = None,
    vc: str | None = None,
) -> AcspAnswer:
    """Confirm an ACSP_V2 transaction as the app must (see the module doc); the key's
    one-time token is kept in the app's state through the app's own retransmit path."""
    chosen = interaction or tx["interactions"][0]["type"]
    verifier = engine.new_user_challenge_verifier()
    challenge = engine.user_challenge(verifier)
    payload = payload_override or acsp_payload(tx, interaction=chosen, user_challenge=challenge)
    digest = engine.acsp_v2_digest(payload, tx["hashType"])
    session = app.session
    account = session.account(tx["documentNumber"])
    key = session.key(account, tx["purpose"])
    body: dict[str, object] = {"interaction": chosen, "userChallenge": challenge}
    if vc is not None:  # the code the user picked (a code choice)
        body["vc"] = vc
    if send_digest:
        body["digest"] = base64.b64encode(digest_override or digest).decode()
    with session.key_lock(account.document_number, tx["purpose"]):
        recover(session, account, key)
        assert key.n is not None and key.token is not None
        s1_prime = engine.client_partial_for_digest(
            key.blob,
            pin,
            n=key.n,
            digest=digest,
            hash_alg=tx["hashType"],
            padding="PSS",
            salt=base64.b64decode(tx["salt"]),
            min_pin_length=PIN_MIN_LENGTH[tx["purpose"]],
        )
        body["s1p"] = engine.transport_encrypt_share(
            s1_prime,
            (key.blob.bits + 7) // 8,
            session.transport_key(),
            engine.transaction_aad(tx["id"]),
        )
        body["token"] = base64.b64encode(key.token).decode()
        body["rnonce"] = base64.b64encode(secrets.token_bytes(16)).decode()
        answer = key_call(
            session, account, key, "confirm", f"{API}/transactions/{tx['id']}/confirm", body
        )
    return AcspAnswer(str(answer["status"]), payload, digest, verifier, challenge, answer)


def public_key(tx: Transaction) -> rsa.RSAPublicKey:
    """The public key of the certificate the relying party receives for ``tx``."""
    purpose = (
        SplitKey.Purpose.AUTH
        if tx.kind == Transaction.Kind.AUTHENTICATION
        else SplitKey.Purpose.SIGN
    )
    key = SplitKey.objects.select_related("certificate").get(account=tx.account, purpose=purpose)
    assert key.certificate is not None
    certificate = x509.load_der_x509_certificate(bytes(key.certificate.der))
    public = certificate.public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    return public


def verify_acsp(tx: Transaction, payload: str, hash_algorithm: str) -> None:
    """The relying party's check: RSASSA-PSS over HASH(payload), salt = hash length."""
    algorithm = HASHES[hash_algorithm]()
    public_key(tx).verify(
        bytes(tx.signature or b""),
        payload.encode(),
        padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size),
        algorithm,
    )


def verify_raw_digest(tx: Transaction, session: RpSession) -> None:
    """The relying party's check of a RAW_DIGEST_SIGNATURE over the digest it sent."""
    params = session.protocol_parameters
    digest = base64.b64decode(params["digest"])
    legacy = {
        "sha256WithRSAEncryption": "SHA-256",
        "sha384WithRSAEncryption": "SHA-384",
        "sha512WithRSAEncryption": "SHA-512",
    }
    if params["signatureAlgorithm"] in legacy:
        algorithm = HASHES[legacy[params["signatureAlgorithm"]]]()
        scheme: padding.AsymmetricPadding = padding.PKCS1v15()
    else:
        algorithm = HASHES[params["hashAlgorithm"]]()
        scheme = padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)
    public_key(tx).verify(bytes(tx.signature or b""), digest, scheme, Prehashed(algorithm))
