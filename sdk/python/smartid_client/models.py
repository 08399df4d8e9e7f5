"""Typed data: a started session (what the relying party keeps between requests), a
session status as the server sent it, and the validated results."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from cryptography import x509

from .errors import UnexpectedResponseError
from .protocol import (
    ACSP_V2,
    RAW_DIGEST_SIGNATURE,
    DeviceLinkType,
    HashAlgorithm,
    SessionType,
    SignatureAlgorithm,
    auth_code,
    auth_code_payload,
    b64decode,
    unprotected_device_link,
)


@dataclass(frozen=True)
class Session:
    """A started session and everything its validation needs later: what the relying party
    sent (rpChallenge or digest, interactions, callback URL, level) and, for a device link,
    the server's sessionToken, sessionSecret and deviceLinkBase.

    Keep it server side only (``sessionSecret`` must never reach the browser): store
    :meth:`to_dict` in the web session or a database row and rebuild it with
    :meth:`from_dict` in the request that shows the next QR frame, takes the callback or
    polls the status.
    """

    api_version: int
    session_id: str
    session_type: SessionType
    relying_party_name: str
    scheme_name: str
    certificate_level: str
    #: ``ACSP_V2``, ``RAW_DIGEST_SIGNATURE`` or "" (certificate choice; v2 sessions).
    signature_protocol: str = ""
    #: v3 authentication: the Base64 rpChallenge sent.
    rp_challenge: str | None = None
    #: v3 signature: the Base64 digest sent; v2 authentication and signature: the hash.
    digest: str | None = None
    hash_algorithm: HashAlgorithm | None = None
    signature_algorithm: SignatureAlgorithm | None = None
    #: v3: the ``interactions`` string exactly as sent ("" for v2 and certificate choice).
    interactions: str = ""
    #: The interaction types offered, in order.
    interaction_types: tuple[str, ...] = ()
    initial_callback_url: str | None = None
    #: Device links: the creation response.
    session_token: str | None = None
    session_secret: str | None = None
    device_link_base: str | None = None
    #: The code the user sees in the app (notification flows and v2), if any.
    verification_code: str | None = None
    #: The person asked for, when the session targets one.
    semantics_identifier: str | None = None
    document_number: str | None = None
    linked_session_id: str | None = None
    #: Wall-clock time (epoch seconds) of the creation response: QR ``elapsedSeconds``.
    created_at: float = field(default_factory=time.time)

    @property
    def is_device_link(self) -> bool:
        return self.session_token is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form (for a server-side session store)."""
        data = asdict(self)
        data["interaction_types"] = list(self.interaction_types)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Session:
        values = dict(data)
        values["session_type"] = SessionType(values["session_type"])
        values["interaction_types"] = tuple(values.get("interaction_types", ()))
        if values.get("hash_algorithm") is not None:
            values["hash_algorithm"] = HashAlgorithm(values["hash_algorithm"])
        if values.get("signature_algorithm") is not None:
            values["signature_algorithm"] = SignatureAlgorithm(values["signature_algorithm"])
        return cls(**values)

    def elapsed_seconds(self, now: float | None = None) -> int:
        """Whole seconds since the creation response (the QR link's ``elapsedSeconds``)."""
        return max(0, int((time.time() if now is None else now) - self.created_at))

    def device_link(
        self,
        link_type: DeviceLinkType,
        *,
        elapsed_seconds: int | None = None,
        lang: str = "eng",
    ) -> str:
        """The device link with its authCode (docs/spec/rp-api.md §5).

        QR: ``elapsedSeconds`` defaults to the seconds since the creation response; show a
        new code every second. Web2App and App2App carry the ``initialCallbackUrl`` in
        their authCode, QR an empty one.
        """
        if (
            self.api_version != 3
            or self.session_token is None
            or self.session_secret is None
            or self.device_link_base is None
        ):
            raise ValueError("not a device-link session")
        if link_type is DeviceLinkType.QR and elapsed_seconds is None:
            elapsed_seconds = self.elapsed_seconds()
        unprotected = unprotected_device_link(
            self.device_link_base,
            link_type,
            self.session_token,
            self.session_type,
            lang=lang,
            elapsed_seconds=elapsed_seconds if link_type is DeviceLinkType.QR else None,
        )
        callback = "" if link_type is DeviceLinkType.QR else (self.initial_callback_url or "")
        payload = auth_code_payload(
            scheme_name=self.scheme_name,
            signature_protocol=self.signature_protocol,
            protocol_value=self.rp_challenge or self.digest or "",
            relying_party_name=self.relying_party_name,
            brokered_rp_name="",
            interactions=self.interactions,
            initial_callback_url=callback,
            unprotected_link=unprotected,
        )
        return f"{unprotected}&authCode={auth_code(self.session_secret, payload)}"

    def qr_link(self, *, elapsed_seconds: int | None = None, lang: str = "eng") -> str:
        """The QR code's link for now (or for ``elapsed_seconds``)."""
        return self.device_link(DeviceLinkType.QR, elapsed_seconds=elapsed_seconds, lang=lang)

    def web2app_link(self, *, lang: str = "eng") -> str:
        return self.device_link(DeviceLinkType.WEB2APP, lang=lang)

    def app2app_link(self, *, lang: str = "eng") -> str:
        return self.device_link(DeviceLinkType.APP2APP, lang=lang)


@dataclass(frozen=True)
class SignatureData:
    """``signature`` of a status (v2: ``{value, algorithm}``; v3: more fields)."""

    value: bytes | None
    algorithm: str | None
    algorithm_parameters: dict[str, Any] | None = None
    server_random: str | None = None
    user_challenge: str | None = None
    flow_type: str | None = None


@dataclass(frozen=True)
class CertificateData:
    """``cert`` of a status: the end-entity certificate (DER) and its level."""

    der: bytes
    level: str

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.der)


@dataclass(frozen=True)
class SessionStatus:
    """A session status as sent (``raw``) and parsed."""

    state: str
    end_result: str | None
    document_number: str | None
    signature_protocol: str | None
    signature: SignatureData | None
    cert: CertificateData | None
    #: v3 ``interactionTypeUsed`` or v2 ``interactionFlowUsed``.
    interaction_used: str | None
    device_ip_address: str | None
    ignored_properties: tuple[str, ...]
    raw: dict[str, Any]

    @property
    def complete(self) -> bool:
        return self.state == "COMPLETE"

    @classmethod
    def parse(cls, body: Any) -> SessionStatus:
        """Parse a status body; :class:`UnexpectedResponseError` if it is malformed."""
        try:
            return cls._parse(body)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise UnexpectedResponseError(200, body, f"malformed session status: {exc}") from exc

    @classmethod
    def _parse(cls, body: Any) -> SessionStatus:
        if not isinstance(body, dict) or body.get("state") not in ("RUNNING", "COMPLETE"):
            raise ValueError("state is neither RUNNING nor COMPLETE")
        result = body.get("result") or {}
        if not isinstance(result, dict):
            raise ValueError("result is not an object")
        end_result = result.get("endResult")
        if body["state"] == "COMPLETE" and not isinstance(end_result, str):
            raise ValueError("COMPLETE without result.endResult")
        signature = None
        if isinstance(body.get("signature"), dict):
            s = body["signature"]
            value = s.get("value")
            params = s.get("signatureAlgorithmParameters")
            signature = SignatureData(
                value=b64decode(value) if isinstance(value, str) else None,
                algorithm=_opt_str(s.get("signatureAlgorithm", s.get("algorithm"))),
                algorithm_parameters=params if isinstance(params, dict) else None,
                server_random=_opt_str(s.get("serverRandom")),
                user_challenge=_opt_str(s.get("userChallenge")),
                flow_type=_opt_str(s.get("flowType")),
            )
        cert = None
        if isinstance(body.get("cert"), dict):
            cert = CertificateData(
                der=b64decode(body["cert"]["value"]), level=str(body["cert"]["certificateLevel"])
            )
        ignored = body.get("ignoredProperties") or []
        return cls(
            state=body["state"],
            end_result=end_result if isinstance(end_result, str) else None,
            document_number=_opt_str(result.get("documentNumber")),
            signature_protocol=_opt_str(body.get("signatureProtocol")),
            signature=signature,
            cert=cert,
            interaction_used=_opt_str(
                body.get("interactionTypeUsed", body.get("interactionFlowUsed"))
            ),
            device_ip_address=_opt_str(body.get("deviceIpAddress")),
            ignored_properties=tuple(str(p) for p in ignored),
            raw=body,
        )


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Identity:
    """The certified person, from the certificate's subject (never from its CN)."""

    given_name: str
    surname: str
    #: Subject ``C``.
    country: str
    #: Subject ``serialNumber``, e.g. ``PNOEE-40504040001`` or ``PNOLV-050405-10009``.
    semantics_identifier: str
    #: ``PNO``, ``IDC`` or ``PAS``.
    identity_type: str
    #: The country of the identifier (may differ from ``country``).
    identity_country: str
    #: The identifier after the first hyphen, e.g. ``050405-10009``.
    personal_code: str
    #: From the certificate's dateOfBirth attribute, else from the personal code (EE, LT,
    #: LV old format); ``None`` when neither tells it (e.g. Latvian ``32…`` codes).
    date_of_birth: date | None
    #: The certificate's subject alternative name (DirName CN).
    document_number: str


@dataclass(frozen=True)
class AuthenticationResult:
    """A validated authentication: who logged in."""

    identity: Identity
    document_number: str
    certificate: x509.Certificate
    certificate_level: str
    #: [end entity, issuing CA, ..., trust anchor]
    chain: tuple[x509.Certificate, ...]
    interaction_used: str | None
    #: v3 only: QR, Web2App, App2App or Notification.
    flow_type: str | None
    device_ip_address: str | None


@dataclass(frozen=True)
class SignatureResult:
    """A validated signature over the relying party's digest."""

    value: bytes
    signature_algorithm: str
    hash_algorithm: HashAlgorithm
    digest: bytes
    identity: Identity
    document_number: str
    certificate: x509.Certificate
    certificate_level: str
    chain: tuple[x509.Certificate, ...]
    interaction_used: str | None
    flow_type: str | None


@dataclass(frozen=True)
class CertificateChoiceResult:
    """A validated certificate choice (or ``signature/certificate/{docNo}``): the signing
    certificate of the person's chosen account."""

    identity: Identity
    document_number: str
    certificate: x509.Certificate
    certificate_level: str
    chain: tuple[x509.Certificate, ...]
    flow_type: str | None


@dataclass(frozen=True)
class SigningCertificate:
    """``signature/certificate/{docNo}``'s answer (state OK), not yet validated."""

    document_number: str
    cert: CertificateData


__all__ = [
    "ACSP_V2",
    "RAW_DIGEST_SIGNATURE",
    "AuthenticationResult",
    "CertificateChoiceResult",
    "CertificateData",
    "Identity",
    "Session",
    "SessionStatus",
    "SignatureData",
    "SignatureResult",
    "SigningCertificate",
]
