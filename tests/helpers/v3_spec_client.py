"""A relying-party client of RP API v3 written from the specification alone.

Everything here follows docs/spec/rp-api.md §5 (and docs/rp-integration.md for the trust
store): the requests, the device links and their authCode, the ACSP_V2 payload and digest,
the checks of the RSASSA-PSS and RAW_DIGEST signatures against the returned certificate, the
certificate chain up to the platform's CA (downloaded from ``/ca/<slug>.crt``), the callback
URL's ``sessionSecretDigest`` and ``userChallengeVerifier``, and the verification code of a
notification authentication.

It deliberately imports nothing from the project (only the standard library, httpx and
cryptography): if the server and this client agree, a relying party that reads the same
pages agrees with the server too. :mod:`tests.rp.v3.test_spec_client` checks it against the
specification's vectors before using it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
)

SCHEME_LIVE = "smart-id"
SCHEME_DEMO = "smart-id-demo"
ACSP_V2 = "ACSP_V2"
RAW_DIGEST = "RAW_DIGEST_SIGNATURE"
PSS = "rsassa-pss"
#: §5 signatureAlgorithm → hash algorithm of the request.
HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "SHA-256": hashes.SHA256,
    "SHA-384": hashes.SHA384,
    "SHA-512": hashes.SHA512,
    "SHA3-256": hashes.SHA3_256,
    "SHA3-384": hashes.SHA3_384,
    "SHA3-512": hashes.SHA3_512,
}
#: The legacy PKCS#1 v1.5 algorithms (since 3.2.1) and the hash each implies.
LEGACY = {
    "sha256WithRSAEncryption": "SHA-256",
    "sha384WithRSAEncryption": "SHA-384",
    "sha512WithRSAEncryption": "SHA-512",
}
FLOW_TYPES = ("QR", "Web2App", "App2App", "Notification")
#: Smart-ID authentication extended key usage and the qualified policy (§4).
SMART_ID_AUTH_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.62306.5.7.0")
CLIENT_AUTH_EKU = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.2")
POLICY_QUALIFIED = "1.3.6.1.4.1.10015.17.2"
POLICY_NON_QUALIFIED = "1.3.6.1.4.1.10015.17.1"


class ValidationFailed(AssertionError):
    """The answer fails a check a relying party must make."""


# --- encodings ----------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64url(data: bytes) -> str:
    """Base64URL without padding."""
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def b64_text(text: str) -> str:
    """B64 of a UTF-8 string ("" stays "")."""
    return b64(text.encode("utf-8"))


def interactions(*items: dict[str, Any]) -> str:
    """``interactions``: the Base64 of the minified JSON array."""
    return b64(json.dumps(list(items), separators=(",", ":")).encode("utf-8"))


# --- device links -------------------------------------------------------------------------


def unprotected_link(
    base: str,
    link_type: str,
    session_token: str,
    session_type: str,
    *,
    lang: str = "eng",
    elapsed_seconds: int | None = None,
) -> str:
    """The link without its authCode; ``elapsedSeconds`` for QR only."""
    elapsed = f"&elapsedSeconds={elapsed_seconds}" if link_type == "QR" else ""
    return (
        f"{base}?deviceLinkType={link_type}{elapsed}&sessionToken={session_token}"
        f"&sessionType={session_type}&version=1.0&lang={lang}"
    )


def authcode_payload(
    *,
    scheme: str,
    protocol: str,
    protocol_value: str,
    rp_name: str,
    brokered_rp_name: str,
    interactions: str,
    initial_callback_url: str,
    unprotected: str,
) -> str:
    """``scheme|protocol|rpChallenge or digest|B64(rpName)|B64(brokered)|interactions|
    callback|unprotectedLink`` (certificate choice: protocol, value, interactions empty)."""
    return "|".join(
        [
            scheme,
            protocol,
            protocol_value,
            b64_text(rp_name),
            b64_text(brokered_rp_name),
            interactions,
            initial_callback_url,
            unprotected,
        ]
    )


def auth_code(session_secret_b64: str, payload: str) -> str:
    key = base64.b64decode(session_secret_b64, validate=True)
    return b64url(hmac.new(key, payload.encode("utf-8"), hashlib.sha256).digest())


def device_link(unprotected: str, code: str) -> str:
    return f"{unprotected}&authCode={code}"


# --- ACSP_V2, VC, callback ----------------------------------------------------------------


def acsp_v2_payload(
    *,
    scheme: str,
    server_random: str,
    rp_challenge: str,
    user_challenge: str,
    rp_name: str,
    brokered_rp_name: str,
    interactions: str,
    interaction_type_used: str,
    initial_callback_url: str,
    flow_type: str,
) -> str:
    return "|".join(
        [
            scheme,
            ACSP_V2,
            server_random,
            rp_challenge,
            user_challenge,
            b64_text(rp_name),
            b64_text(brokered_rp_name),
            b64(hashlib.sha256(interactions.encode("utf-8")).digest()),
            interaction_type_used,
            initial_callback_url,
            flow_type,
        ]
    )


def acsp_v2_digest(payload: str, hash_name: str) -> bytes:
    digest = hashes.Hash(HASHES[hash_name]())
    digest.update(payload.encode("utf-8"))
    return digest.finalize()


def verification_code(raw: bytes) -> str:
    """§2: uint16_be(SHA256(raw)[-2:]) mod 10000, four digits."""
    return f"{int.from_bytes(hashlib.sha256(raw).digest()[-2:], 'big') % 10000:04d}"


def vc_for_rp_challenge(rp_challenge: str) -> str:
    return verification_code(base64.b64decode(rp_challenge, validate=True))


def session_secret_digest(session_secret_b64: str) -> str:
    return b64url(hashlib.sha256(base64.b64decode(session_secret_b64, validate=True)).digest())


def user_challenge_of(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode("ascii")).digest())


def pss_parameters(hash_name: str) -> dict[str, Any]:
    """The ``signatureAlgorithmParameters`` a PSS signature must report."""
    return {
        "hashAlgorithm": hash_name,
        "maskGenAlgorithm": {"algorithm": "id-mgf1", "parameters": {"hashAlgorithm": hash_name}},
        "saltLength": HASHES[hash_name].digest_size,
        "trailerField": "0xbc",
    }


def check_callback(
    url: str, initial_callback_url: str, session_secret_b64: str, user_challenge: str | None
) -> None:
    """The URL the app opened: the RP's own URL plus ``sessionSecretDigest`` (and, for an
    authentication, a ``userChallengeVerifier`` whose hash is the signed userChallenge)."""
    _require(url.startswith(initial_callback_url + ("&" if "?" in initial_callback_url else "?")))
    ours = parse_qs(urlsplit(initial_callback_url).query)
    params = {k: v for k, v in parse_qs(urlsplit(url).query).items() if k not in ours}
    _require(params.pop("sessionSecretDigest") == [session_secret_digest(session_secret_b64)])
    if user_challenge is None:
        _require(not params, f"unexpected callback parameters {params}")
        return
    (verifier,) = params.pop("userChallengeVerifier")
    _require(not params, f"unexpected callback parameters {params}")
    _require(user_challenge_of(verifier) == user_challenge, "userChallengeVerifier")


def _require(condition: bool, what: str = "check failed") -> None:
    if not condition:
        raise ValidationFailed(what)


# --- the trust store and the certificate ----------------------------------------------------


@dataclass(frozen=True)
class TrustStore:
    """The platform's root CA (the anchor) and its two issuing CAs, downloaded once."""

    root: x509.Certificate
    intermediates: list[x509.Certificate]

    @classmethod
    def download(cls, base_url: str) -> TrustStore:
        def load(slug: str) -> x509.Certificate:
            response = httpx.get(f"{base_url}/ca/{slug}.crt", timeout=30)
            response.raise_for_status()
            return x509.load_der_x509_certificate(response.content)

        return cls(load("root"), [load("eid-q"), load("eid-nq")])

    def verify(self, cert: x509.Certificate, purpose: str) -> list[x509.Certificate]:
        """The path cert → issuing CA → root (signatures, validity, CA constraints) and
        the end entity's key usage: digitalSignature + Smart-ID EKU for "auth",
        nonRepudiation for "sign". Raises on failure."""

        def auth_eku(policy: object, cert: x509.Certificate, eku: x509.ExtendedKeyUsage) -> None:
            if SMART_ID_AUTH_EKU not in eku and CLIENT_AUTH_EKU not in eku:
                raise ValueError("not an authentication certificate (extended key usage)")

        def key_usage(policy: object, cert: x509.Certificate, ku: x509.KeyUsage) -> None:
            wanted = ku.digital_signature if purpose == "auth" else ku.content_commitment
            if not wanted:
                raise ValueError(f"key usage does not allow {purpose}")

        ee = ExtensionPolicy.permit_all().require_present(
            x509.KeyUsage, Criticality.CRITICAL, key_usage
        )
        if purpose == "auth":
            ee = ee.require_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, auth_eku)
        verifier = (
            PolicyBuilder()
            .store(Store([self.root]))
            .time(datetime.now(UTC))
            .extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee)
            .build_client_verifier()
        )
        return list(verifier.verify(cert, self.intermediates).chain)


def certificate(status: dict[str, Any]) -> x509.Certificate:
    return x509.load_der_x509_certificate(base64.b64decode(status["cert"]["value"]))


def rsa_key(cert: x509.Certificate) -> rsa.RSAPublicKey:
    key = cert.public_key()
    _require(isinstance(key, rsa.RSAPublicKey), "not an RSA key")
    assert isinstance(key, rsa.RSAPublicKey)
    return key


@dataclass(frozen=True)
class Identity:
    document_number: str  # the SAN's DirName CN
    serial_number: str  # subject serialNumber, e.g. PNOEE-40504040001
    given_name: str
    surname: str
    country: str


def identity(cert: x509.Certificate) -> Identity:
    def subject(oid: x509.ObjectIdentifier) -> str:
        values = cert.subject.get_attributes_for_oid(oid)
        return str(values[0].value) if values else ""

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    names = san.get_values_for_type(x509.DirectoryName)
    cns = [str(a.value) for n in names for a in n.get_attributes_for_oid(NameOID.COMMON_NAME)]
    _require(len(cns) == 1, "the SAN names one document number")
    return Identity(
        document_number=cns[0],
        serial_number=subject(NameOID.SERIAL_NUMBER),
        given_name=subject(NameOID.GIVEN_NAME),
        surname=subject(NameOID.SURNAME),
        country=subject(NameOID.COUNTRY_NAME),
    )


def check_level(cert: x509.Certificate, level: str) -> None:
    """The certificate's policies carry at least the requested level."""
    policies = cert.extensions.get_extension_for_class(x509.CertificatePolicies).value
    oids = {p.policy_identifier.dotted_string for p in policies}
    wanted = POLICY_QUALIFIED if level == "QUALIFIED" else POLICY_NON_QUALIFIED
    _require(wanted in oids or POLICY_QUALIFIED in oids, f"certificate policies {oids}")


# --- signatures --------------------------------------------------------------------------


def _pss(hash_name: str) -> tuple[hashes.HashAlgorithm, padding.PSS]:
    algorithm = HASHES[hash_name]()
    return algorithm, padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)


def verify_pss_digest(
    key: rsa.RSAPublicKey, signature: bytes, digest: bytes, hash_name: str
) -> None:
    """RSASSA-PSS (MGF1 with the same hash, salt = hash length) over a ready digest."""
    algorithm, pss = _pss(hash_name)
    key.verify(signature, digest, pss, Prehashed(algorithm))


def verify_pkcs1_digest(key: rsa.RSAPublicKey, signature: bytes, digest: bytes, name: str) -> None:
    """Legacy ``sha*WithRSAEncryption``: PKCS#1 v1.5 over DigestInfo(hash, digest)."""
    key.verify(signature, digest, padding.PKCS1v15(), Prehashed(HASHES[LEGACY[name]]()))


# --- the client ---------------------------------------------------------------------------


@dataclass
class Session:
    """A started v3 session as its relying party keeps it: what it sent and the answer."""

    client: SpecClient
    path: str
    body: dict[str, Any]
    answer: dict[str, Any]
    started: float = field(default_factory=time.monotonic)

    @property
    def session_id(self) -> str:
        return str(self.answer["sessionID"])

    @property
    def session_type(self) -> str:
        if "certificate-choice/" in self.path:
            return "cert"
        return "auth" if self.path.startswith("authentication/") else "sign"

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = self.body.get("signatureProtocolParameters", {})
        return params

    @property
    def hash_name(self) -> str:
        algorithm = self.params["signatureAlgorithm"]
        if algorithm in LEGACY:
            return LEGACY[algorithm]
        return str(self.params["signatureAlgorithmParameters"]["hashAlgorithm"])

    def link(self, link_type: str, *, elapsed: int | None = None, lang: str = "eng") -> str:
        """The device link (QR: ``elapsedSeconds`` since the creation response)."""
        answer = self.answer
        _require(len(answer["sessionToken"]) >= 24 and answer["sessionToken"].isalnum())
        _require(len(base64.b64decode(answer["sessionSecret"], validate=True)) >= 18)
        if link_type == "QR" and elapsed is None:
            elapsed = int(time.monotonic() - self.started)
        unprotected = unprotected_link(
            answer["deviceLinkBase"],
            link_type,
            answer["sessionToken"],
            self.session_type,
            lang=lang,
            elapsed_seconds=elapsed,
        )
        payload = authcode_payload(
            scheme=self.client.scheme,
            protocol=self.body.get("signatureProtocol", ""),
            protocol_value=self.params.get("rpChallenge") or self.params.get("digest") or "",
            rp_name=self.body["relyingPartyName"],
            brokered_rp_name="",
            interactions=self.body.get("interactions", ""),
            initial_callback_url=(
                "" if link_type == "QR" else self.body.get("initialCallbackUrl") or ""
            ),
            unprotected=unprotected,
        )
        return device_link(unprotected, auth_code(answer["sessionSecret"], payload))

    def status(self, timeout_ms: int = 1000) -> dict[str, Any]:
        return self.client.status(self.session_id, timeout_ms)

    def finished(self, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while (body := self.status(2000))["state"] == "RUNNING":
            _require(time.monotonic() < deadline, "the session never completed")
        _require(body["state"] == "COMPLETE", f"state {body['state']}")
        return body

    # -- validation: what a relying party must check before it trusts an answer --

    def validate(
        self, status: dict[str, Any], *, flow_type: str | None = None
    ) -> tuple[Identity, x509.Certificate]:
        """Every check of §4/§5 for this session's kind; returns the certified identity."""
        _require(status["state"] == "COMPLETE")
        _require(status["result"]["endResult"] == "OK", f"endResult {status['result']}")
        cert = certificate(status)
        purpose = "auth" if self.session_type == "auth" else "sign"
        self.client.trust.verify(cert, purpose)
        level = self.body.get("certificateLevel", "QUALIFIED")
        _require(status["cert"]["certificateLevel"] in ("QUALIFIED", level))
        check_level(cert, level)
        who = identity(cert)
        _require(status["result"]["documentNumber"] == who.document_number, "documentNumber")
        signature = status.get("signature")
        _require(isinstance(signature, dict), "no signature")
        assert isinstance(signature, dict)
        _require(signature["flowType"] in FLOW_TYPES)
        if flow_type is not None:
            _require(signature["flowType"] == flow_type, f"flowType {signature['flowType']}")
        if self.session_type == "auth":
            self._validate_acsp(status, cert)
        elif self.session_type == "sign":
            self._validate_raw_digest(status, cert)
        else:  # a device-link certificate choice reports its flow only
            _require(set(signature) == {"flowType"}, f"certificate choice {signature}")
        return who, cert

    def acsp_payload(self, status: dict[str, Any]) -> str:
        signature = status["signature"]
        same_device = signature["flowType"] in ("Web2App", "App2App")
        return acsp_v2_payload(
            scheme=self.client.scheme,
            server_random=signature["serverRandom"],
            rp_challenge=self.params["rpChallenge"],  # ours, never the answer's
            user_challenge=signature["userChallenge"],
            rp_name=self.body["relyingPartyName"],
            brokered_rp_name="",
            interactions=self.body["interactions"],
            interaction_type_used=status["interactionTypeUsed"],
            initial_callback_url=(self.body.get("initialCallbackUrl") or "") if same_device else "",
            flow_type=signature["flowType"],
        )

    def _validate_acsp(self, status: dict[str, Any], cert: x509.Certificate) -> None:
        signature = status["signature"]
        _require(status["signatureProtocol"] == ACSP_V2)
        _require(signature["signatureAlgorithm"] == PSS)
        _require(signature["signatureAlgorithmParameters"] == pss_parameters(self.hash_name))
        _require(len(signature["serverRandom"]) >= 24)
        base64.b64decode(signature["serverRandom"], validate=True)
        user = signature["userChallenge"]
        _require(len(user) == 43 and len(base64.urlsafe_b64decode(user + "=")) == 32)
        self._check_interaction_used(status)
        digest = acsp_v2_digest(self.acsp_payload(status), self.hash_name)
        verify_pss_digest(
            rsa_key(cert), base64.b64decode(signature["value"]), digest, self.hash_name
        )

    def _check_interaction_used(self, status: dict[str, Any]) -> None:
        offered = [i["type"] for i in json.loads(base64.b64decode(self.body["interactions"]))]
        _require(status["interactionTypeUsed"] in offered, "interaction not offered")

    def _validate_raw_digest(self, status: dict[str, Any], cert: x509.Certificate) -> None:
        signature = status["signature"]
        self._check_interaction_used(status)
        _require(status["signatureProtocol"] == RAW_DIGEST)
        algorithm = self.params["signatureAlgorithm"]
        _require(signature["signatureAlgorithm"] == algorithm)
        value = base64.b64decode(signature["value"])
        digest = base64.b64decode(self.params["digest"])  # ours, never the answer's
        if algorithm == PSS:
            _require(signature["signatureAlgorithmParameters"] == pss_parameters(self.hash_name))
            verify_pss_digest(rsa_key(cert), value, digest, self.hash_name)
        else:
            verify_pkcs1_digest(rsa_key(cert), value, digest, algorithm)


@dataclass
class SpecClient:
    """An RP API v3 client of one relying party at ``base_url`` (without ``/v3``)."""

    base_url: str
    rp_uuid: str
    rp_name: str
    scheme: str = SCHEME_DEMO
    _trust: TrustStore | None = None

    @property
    def trust(self) -> TrustStore:
        if self._trust is None:
            self._trust = TrustStore.download(self.base_url)
        return self._trust

    def _rp(self, level: str) -> dict[str, Any]:
        return {
            "relyingPartyUUID": self.rp_uuid,
            "relyingPartyName": self.rp_name,
            "certificateLevel": level,
        }

    def auth_body(
        self,
        items: list[dict[str, Any]],
        *,
        hash_name: str = "SHA-512",
        callback: str | None = None,
        notification: bool = False,
        level: str = "QUALIFIED",
    ) -> dict[str, Any]:
        body = self._rp(level) | {
            "signatureProtocol": ACSP_V2,
            "signatureProtocolParameters": {
                "rpChallenge": b64(secrets.token_bytes(64)),
                "signatureAlgorithm": PSS,
                "signatureAlgorithmParameters": {"hashAlgorithm": hash_name},
            },
            "interactions": interactions(*items),
        }
        if notification:
            body["vcType"] = "numeric4"
        elif callback:
            body["initialCallbackUrl"] = callback
        return body

    def sign_body(
        self,
        data: bytes,
        items: list[dict[str, Any]],
        *,
        hash_name: str = "SHA-256",
        algorithm: str = PSS,
        callback: str | None = None,
        level: str = "QUALIFIED",
    ) -> dict[str, Any]:
        digest = hashes.Hash(HASHES[LEGACY.get(algorithm, hash_name)]())
        digest.update(data)
        params: dict[str, Any] = {
            "digest": b64(digest.finalize()),
            "signatureAlgorithm": algorithm,
        }
        if algorithm == PSS:
            params["signatureAlgorithmParameters"] = {"hashAlgorithm": hash_name}
        body = self._rp(level) | {
            "signatureProtocol": RAW_DIGEST,
            "signatureProtocolParameters": params,
            "nonce": secrets.token_hex(8),
            "interactions": interactions(*items),
        }
        if callback:
            body["initialCallbackUrl"] = callback
        return body

    def choice_body(
        self, *, callback: str | None = None, level: str = "QUALIFIED"
    ) -> dict[str, Any]:
        body = self._rp(level)
        if callback:
            body["initialCallbackUrl"] = callback
        return body

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{self.base_url}/v3/{path}", json=body, timeout=30)

    def start(self, path: str, body: dict[str, Any]) -> Session:
        response = self.post(path, body)
        started = time.monotonic()
        _require(response.status_code == 200, f"{response.status_code} {response.text}")
        answer: dict[str, Any] = response.json()
        if "/device-link/" in path:
            _require(
                set(answer) >= {"sessionID", "sessionToken", "sessionSecret", "deviceLinkBase"}
            )
        return Session(self, path, body, answer, started)

    def status(self, session_id: str, timeout_ms: int = 1000) -> dict[str, Any]:
        response = httpx.get(
            f"{self.base_url}/v3/session/{session_id}",
            params={"timeoutMs": timeout_ms},
            timeout=timeout_ms / 1000 + 30,
        )
        _require(response.status_code == 200, f"{response.status_code} {response.text}")
        body: dict[str, Any] = response.json()
        return body

    def certificate(self, document_number: str, level: str = "QUALIFIED") -> dict[str, Any]:
        """``signature/certificate/{docNo}``: the signing certificate, no user interaction."""
        response = self.post(f"signature/certificate/{document_number}", self._rp(level))
        _require(response.status_code == 200, f"{response.status_code} {response.text}")
        body: dict[str, Any] = response.json()
        return body
