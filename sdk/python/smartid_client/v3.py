"""HTTP clients of RP API v3: :class:`SmartIdClient` (sync) and :class:`AsyncSmartIdClient`.

A client starts sessions and polls them; it does not validate the answer (that is
:class:`smartid_client.Validator`'s job, with the trust anchors). Each start returns a
:class:`~smartid_client.models.Session` that holds what the validation needs; ``wait``
long-polls until the session is COMPLETE and raises the end result's exception unless it is
``OK``. The requests are built and the answers parsed by the same code for both clients
(:class:`_V3Requests`); only the sending differs.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from ._http import (
    HTTP_TIMEOUT,
    USER_AGENT,
    _AsyncPolling,
    _Base,
    _Call,
    _check,
    _check_digest,
    _hash_for,
    _session_id,
    _SyncPolling,
    _target,
)
from .errors import DocumentUnusableError, TransportError, UnexpectedResponseError
from .models import CertificateData, Session, SigningCertificate
from .protocol import (
    ACSP_V2,
    RAW_DIGEST_SIGNATURE,
    CertificateLevel,
    HashAlgorithm,
    Interaction,
    SessionType,
    SignatureAlgorithm,
    b64,
    b64decode,
    encode_interactions,
    verification_code,
)

__all__ = ["AsyncSmartIdClient", "SmartIdClient"]


class _V3Requests(_Base):
    """The v3 requests, shared by the sync and the async client."""

    api_version = 3

    def __init__(
        self,
        base_url: str,
        relying_party_uuid: str,
        relying_party_name: str,
        *,
        scheme_name: str,
    ) -> None:
        super().__init__(base_url, relying_party_uuid, relying_party_name)
        #: ``smart-id`` (LIVE, production) or ``smart-id-demo`` (every other installation).
        self.scheme_name = scheme_name

    def _session(self, answer: dict[str, Any], **fields: Any) -> Session:
        token = answer.get("sessionToken")
        secret = answer.get("sessionSecret")
        base = answer.get("deviceLinkBase")
        if fields.pop("device_link"):
            if not (isinstance(token, str) and token.isalnum() and len(token) >= 24):
                raise UnexpectedResponseError(200, answer, "sessionToken")
            if not isinstance(secret, str) or len(_b64_or_empty(secret)) < 18:
                raise UnexpectedResponseError(200, answer, "sessionSecret")
            if not isinstance(base, str) or not base:
                raise UnexpectedResponseError(200, answer, "deviceLinkBase")
            fields |= {"session_token": token, "session_secret": secret, "device_link_base": base}
        return Session(
            api_version=3,
            session_id=_session_id(answer),
            relying_party_name=self.relying_party_name,
            scheme_name=self.scheme_name,
            **fields,
        )

    def _auth_call(
        self,
        path: str,
        interactions: Sequence[Interaction],
        *,
        device_link: bool,
        certificate_level: CertificateLevel | str,
        hash_algorithm: HashAlgorithm,
        rp_challenge: bytes | None,
        initial_callback_url: str | None,
        semantics_identifier: str | None,
        document_number: str | None,
        request_properties: dict[str, Any] | None,
    ) -> _Call:
        challenge = b64(rp_challenge if rp_challenge is not None else secrets.token_bytes(64))
        encoded = encode_interactions(interactions)
        body = self._rp(certificate_level) | {
            "signatureProtocol": ACSP_V2,
            "signatureProtocolParameters": {
                "rpChallenge": challenge,
                "signatureAlgorithm": SignatureAlgorithm.RSASSA_PSS.value,
                "signatureAlgorithmParameters": {"hashAlgorithm": hash_algorithm.value},
            },
            "interactions": encoded,
        }
        if device_link:
            if initial_callback_url is not None:
                body["initialCallbackUrl"] = initial_callback_url
        else:
            if initial_callback_url is not None:
                raise ValueError("a notification takes no initial_callback_url")
            body["vcType"] = "numeric4"
        if request_properties:
            body["requestProperties"] = request_properties

        def make(answer: dict[str, Any]) -> Session:
            return self._session(
                answer,
                device_link=device_link,
                session_type=SessionType.AUTHENTICATION,
                certificate_level=body["certificateLevel"],
                signature_protocol=ACSP_V2,
                rp_challenge=challenge,
                hash_algorithm=hash_algorithm,
                signature_algorithm=SignatureAlgorithm.RSASSA_PSS,
                interactions=encoded,
                interaction_types=tuple(i.type.value for i in interactions),
                initial_callback_url=initial_callback_url,
                verification_code=(
                    None if device_link else verification_code(b64decode(challenge))
                ),
                semantics_identifier=semantics_identifier,
                document_number=document_number,
            )

        return _Call(path, body, make)

    def _authentication_device_link(
        self,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        initial_callback_url: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        rp_challenge: bytes | None = None,
        request_properties: dict[str, Any] | None = None,
    ) -> _Call:
        if semantics_identifier is None and document_number is None:
            target = "anonymous"
        else:
            target = _target(semantics_identifier, document_number)
        return self._auth_call(
            f"authentication/device-link/{target}",
            interactions,
            device_link=True,
            certificate_level=certificate_level,
            hash_algorithm=hash_algorithm,
            rp_challenge=rp_challenge,
            initial_callback_url=initial_callback_url,
            semantics_identifier=semantics_identifier,
            document_number=document_number,
            request_properties=request_properties,
        )

    def _authentication_notification(
        self,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        rp_challenge: bytes | None = None,
        request_properties: dict[str, Any] | None = None,
    ) -> _Call:
        return self._auth_call(
            f"authentication/notification/{_target(semantics_identifier, document_number)}",
            interactions,
            device_link=False,
            certificate_level=certificate_level,
            hash_algorithm=hash_algorithm,
            rp_challenge=rp_challenge,
            initial_callback_url=None,
            semantics_identifier=semantics_identifier,
            document_number=document_number,
            request_properties=request_properties,
        )

    def _signature_call(
        self,
        path: str,
        digest: bytes,
        interactions: Sequence[Interaction],
        *,
        device_link: bool,
        hash_algorithm: HashAlgorithm | None,
        signature_algorithm: SignatureAlgorithm,
        certificate_level: CertificateLevel | str,
        initial_callback_url: str | None,
        nonce: str | None,
        semantics_identifier: str | None,
        document_number: str | None,
        linked_session_id: str | None = None,
        request_properties: dict[str, Any] | None = None,
    ) -> _Call:
        hash_alg = _hash_for(signature_algorithm, hash_algorithm)
        _check_digest(digest, hash_alg)
        params: dict[str, Any] = {
            "digest": b64(digest),
            "signatureAlgorithm": signature_algorithm.value,
        }
        if signature_algorithm is SignatureAlgorithm.RSASSA_PSS:
            params["signatureAlgorithmParameters"] = {"hashAlgorithm": hash_alg.value}
        encoded = encode_interactions(interactions)
        body = self._rp(certificate_level) | {
            "signatureProtocol": RAW_DIGEST_SIGNATURE,
            "signatureProtocolParameters": params,
            "interactions": encoded,
        }
        if nonce is not None:
            body["nonce"] = nonce
        if linked_session_id is not None:
            body["linkedSessionID"] = linked_session_id
        if initial_callback_url is not None:
            if not device_link:
                raise ValueError("a notification takes no initial_callback_url")
            body["initialCallbackUrl"] = initial_callback_url
        if request_properties:
            body["requestProperties"] = request_properties

        def make(answer: dict[str, Any]) -> Session:
            vc = answer.get("vc")
            code = vc.get("value") if isinstance(vc, dict) else None
            if not device_link and linked_session_id is None:
                if not (isinstance(code, str) and len(code) == 4 and code.isdigit()):
                    raise UnexpectedResponseError(200, answer, "no vc.value in the answer")
            return self._session(
                answer,
                device_link=device_link,
                session_type=SessionType.SIGNATURE,
                certificate_level=body["certificateLevel"],
                signature_protocol=RAW_DIGEST_SIGNATURE,
                digest=params["digest"],
                hash_algorithm=hash_alg,
                signature_algorithm=signature_algorithm,
                interactions=encoded,
                interaction_types=tuple(i.type.value for i in interactions),
                initial_callback_url=initial_callback_url,
                verification_code=code if isinstance(code, str) else None,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                linked_session_id=linked_session_id,
            )

        return _Call(path, body, make)

    def _choice_call(
        self,
        path: str,
        *,
        device_link: bool,
        certificate_level: CertificateLevel | str,
        initial_callback_url: str | None,
        nonce: str | None,
        semantics_identifier: str | None,
    ) -> _Call:
        body = self._rp(certificate_level)
        if initial_callback_url is not None:
            body["initialCallbackUrl"] = initial_callback_url
        if nonce is not None:
            body["nonce"] = nonce

        def make(answer: dict[str, Any]) -> Session:
            return self._session(
                answer,
                device_link=device_link,
                session_type=SessionType.CERTIFICATE_CHOICE,
                certificate_level=body["certificateLevel"],
                initial_callback_url=initial_callback_url,
                semantics_identifier=semantics_identifier,
            )

        return _Call(path, body, make)


def _b64_or_empty(text: str) -> bytes:
    try:
        return b64decode(text)
    except ValueError:
        return b""


class SmartIdClient(_V3Requests, _SyncPolling):
    """RP API v3, synchronous.

    ``base_url`` is the API's base including ``/v3`` (e.g. ``http://127.0.0.1:8000/v3``);
    ``relying_party_name`` must be spelled exactly as registered (it is part of the authCode
    and the ACSP_V2 payload); ``scheme_name`` is ``smart-id`` in production and
    ``smart-id-demo`` elsewhere. Pass ``http`` to reuse a configured ``httpx.Client``
    (proxies, TLS pinning); the client then does not close it.
    """

    def __init__(
        self,
        base_url: str,
        relying_party_uuid: str,
        relying_party_name: str,
        *,
        scheme_name: str,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, relying_party_uuid, relying_party_name, scheme_name=scheme_name)
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=HTTP_TIMEOUT, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> SmartIdClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = self.http.post(f"{self.base_url}/{path}", json=body)
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from exc
        return _check(response)

    def _start(self, call: _Call) -> Session:
        return call.make(self._post(call.path, call.body))

    def authentication_device_link(
        self,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        initial_callback_url: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        rp_challenge: bytes | None = None,
        request_properties: dict[str, Any] | None = None,
    ) -> Session:
        """``authentication/device-link/{anonymous|etsi/…|document/…}`` (anonymous unless a
        person is named). ``initial_callback_url``: your https page for Web2App/App2App
        (add a random value of your own: :func:`smartid_client.new_callback_url`); leave it
        out for QR only. ``rp_challenge`` defaults to 64 fresh random bytes."""
        return self._start(
            self._authentication_device_link(
                interactions,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                initial_callback_url=initial_callback_url,
                certificate_level=certificate_level,
                hash_algorithm=hash_algorithm,
                rp_challenge=rp_challenge,
                request_properties=request_properties,
            )
        )

    def authentication_notification(
        self,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        rp_challenge: bytes | None = None,
        request_properties: dict[str, Any] | None = None,
    ) -> Session:
        """``authentication/notification/{etsi|document}/…``; show
        ``session.verification_code`` (computed from the rpChallenge) to the user."""
        return self._start(
            self._authentication_notification(
                interactions,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                certificate_level=certificate_level,
                hash_algorithm=hash_algorithm,
                rp_challenge=rp_challenge,
                request_properties=request_properties,
            )
        )

    def signature_device_link(
        self,
        digest: bytes,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        hash_algorithm: HashAlgorithm | None = None,
        signature_algorithm: SignatureAlgorithm = SignatureAlgorithm.RSASSA_PSS,
        initial_callback_url: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """``signature/device-link/{etsi|document}/…`` over ``digest`` (its length must fit
        the hash: SHA-512 unless given or implied by a PKCS#1 v1.5 algorithm)."""
        path = f"signature/device-link/{_target(semantics_identifier, document_number)}"
        return self._start(
            self._signature_call(
                path,
                digest,
                interactions,
                device_link=True,
                hash_algorithm=hash_algorithm,
                signature_algorithm=signature_algorithm,
                certificate_level=certificate_level,
                initial_callback_url=initial_callback_url,
                nonce=nonce,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
            )
        )

    def signature_notification(
        self,
        digest: bytes,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        hash_algorithm: HashAlgorithm | None = None,
        signature_algorithm: SignatureAlgorithm = SignatureAlgorithm.RSASSA_PSS,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """``signature/notification/{etsi|document}/…``; show ``session.verification_code``
        (the service's ``vc.value``)."""
        path = f"signature/notification/{_target(semantics_identifier, document_number)}"
        return self._start(
            self._signature_call(
                path,
                digest,
                interactions,
                device_link=False,
                hash_algorithm=hash_algorithm,
                signature_algorithm=signature_algorithm,
                certificate_level=certificate_level,
                initial_callback_url=None,
                nonce=nonce,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
            )
        )

    def signature_linked(
        self,
        document_number: str,
        linked_session: Session | str,
        digest: bytes,
        interactions: Sequence[Interaction],
        *,
        hash_algorithm: HashAlgorithm | None = None,
        signature_algorithm: SignatureAlgorithm = SignatureAlgorithm.RSASSA_PSS,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """``signature/notification/linked/{docNo}`` after a device-link certificate choice
        (``linked_session``, completed OK for this document); the app shows no code."""
        linked = (
            linked_session.session_id if isinstance(linked_session, Session) else linked_session
        )
        return self._start(
            self._signature_call(
                f"signature/notification/linked/{quote(document_number, safe='')}",
                digest,
                interactions,
                device_link=False,
                hash_algorithm=hash_algorithm,
                signature_algorithm=signature_algorithm,
                certificate_level=certificate_level,
                initial_callback_url=None,
                nonce=nonce,
                semantics_identifier=None,
                document_number=document_number,
                linked_session_id=linked,
            )
        )

    def certificate_choice_device_link(
        self,
        *,
        initial_callback_url: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """``signature/certificate-choice/device-link/anonymous``."""
        return self._start(
            self._choice_call(
                "signature/certificate-choice/device-link/anonymous",
                device_link=True,
                certificate_level=certificate_level,
                initial_callback_url=initial_callback_url,
                nonce=nonce,
                semantics_identifier=None,
            )
        )

    def certificate_choice_notification(
        self,
        semantics_identifier: str,
        *,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """``signature/certificate-choice/notification/etsi/{semId}``."""
        return self._start(
            self._choice_call(
                f"signature/certificate-choice/notification/etsi/"
                f"{quote(semantics_identifier, safe='')}",
                device_link=False,
                certificate_level=certificate_level,
                initial_callback_url=None,
                nonce=nonce,
                semantics_identifier=semantics_identifier,
            )
        )

    def signing_certificate(
        self,
        document_number: str,
        *,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
    ) -> SigningCertificate:
        """``signature/certificate/{docNo}``: the signing certificate, no user interaction.
        ``DOCUMENT_UNUSABLE`` raises :class:`DocumentUnusableError`. Validate it with
        :meth:`Validator.signing_certificate` before use."""
        answer = self._post(
            f"signature/certificate/{quote(document_number, safe='')}",
            self._rp(certificate_level),
        )
        return _signing_certificate(answer, document_number)


class AsyncSmartIdClient(_V3Requests, _AsyncPolling):
    """RP API v3 on asyncio: the same methods as :class:`SmartIdClient`, as coroutines."""

    def __init__(
        self,
        base_url: str,
        relying_party_uuid: str,
        relying_party_name: str,
        *,
        scheme_name: str,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, relying_party_uuid, relying_party_name, scheme_name=scheme_name)
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, headers={"User-Agent": USER_AGENT}
        )

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncSmartIdClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await self.http.post(f"{self.base_url}/{path}", json=body)
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from exc
        return _check(response)

    async def _start(self, call: _Call) -> Session:
        return call.make(await self._post(call.path, call.body))

    async def authentication_device_link(
        self,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        initial_callback_url: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        rp_challenge: bytes | None = None,
        request_properties: dict[str, Any] | None = None,
    ) -> Session:
        """See :meth:`SmartIdClient.authentication_device_link`."""
        return await self._start(
            self._authentication_device_link(
                interactions,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                initial_callback_url=initial_callback_url,
                certificate_level=certificate_level,
                hash_algorithm=hash_algorithm,
                rp_challenge=rp_challenge,
                request_properties=request_properties,
            )
        )

    async def authentication_notification(
        self,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        rp_challenge: bytes | None = None,
        request_properties: dict[str, Any] | None = None,
    ) -> Session:
        """See :meth:`SmartIdClient.authentication_notification`."""
        return await self._start(
            self._authentication_notification(
                interactions,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                certificate_level=certificate_level,
                hash_algorithm=hash_algorithm,
                rp_challenge=rp_challenge,
                request_properties=request_properties,
            )
        )

    async def signature_device_link(
        self,
        digest: bytes,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        hash_algorithm: HashAlgorithm | None = None,
        signature_algorithm: SignatureAlgorithm = SignatureAlgorithm.RSASSA_PSS,
        initial_callback_url: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """See :meth:`SmartIdClient.signature_device_link`."""
        path = f"signature/device-link/{_target(semantics_identifier, document_number)}"
        return await self._start(
            self._signature_call(
                path,
                digest,
                interactions,
                device_link=True,
                hash_algorithm=hash_algorithm,
                signature_algorithm=signature_algorithm,
                certificate_level=certificate_level,
                initial_callback_url=initial_callback_url,
                nonce=nonce,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
            )
        )

    async def signature_notification(
        self,
        digest: bytes,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        hash_algorithm: HashAlgorithm | None = None,
        signature_algorithm: SignatureAlgorithm = SignatureAlgorithm.RSASSA_PSS,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """See :meth:`SmartIdClient.signature_notification`."""
        path = f"signature/notification/{_target(semantics_identifier, document_number)}"
        return await self._start(
            self._signature_call(
                path,
                digest,
                interactions,
                device_link=False,
                hash_algorithm=hash_algorithm,
                signature_algorithm=signature_algorithm,
                certificate_level=certificate_level,
                initial_callback_url=None,
                nonce=nonce,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
            )
        )

    async def signature_linked(
        self,
        document_number: str,
        linked_session: Session | str,
        digest: bytes,
        interactions: Sequence[Interaction],
        *,
        hash_algorithm: HashAlgorithm | None = None,
        signature_algorithm: SignatureAlgorithm = SignatureAlgorithm.RSASSA_PSS,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """See :meth:`SmartIdClient.signature_linked`."""
        linked = (
            linked_session.session_id if isinstance(linked_session, Session) else linked_session
        )
        return await self._start(
            self._signature_call(
                f"signature/notification/linked/{quote(document_number, safe='')}",
                digest,
                interactions,
                device_link=False,
                hash_algorithm=hash_algorithm,
                signature_algorithm=signature_algorithm,
                certificate_level=certificate_level,
                initial_callback_url=None,
                nonce=nonce,
                semantics_identifier=None,
                document_number=document_number,
                linked_session_id=linked,
            )
        )

    async def certificate_choice_device_link(
        self,
        *,
        initial_callback_url: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """See :meth:`SmartIdClient.certificate_choice_device_link`."""
        return await self._start(
            self._choice_call(
                "signature/certificate-choice/device-link/anonymous",
                device_link=True,
                certificate_level=certificate_level,
                initial_callback_url=initial_callback_url,
                nonce=nonce,
                semantics_identifier=None,
            )
        )

    async def certificate_choice_notification(
        self,
        semantics_identifier: str,
        *,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """See :meth:`SmartIdClient.certificate_choice_notification`."""
        return await self._start(
            self._choice_call(
                f"signature/certificate-choice/notification/etsi/"
                f"{quote(semantics_identifier, safe='')}",
                device_link=False,
                certificate_level=certificate_level,
                initial_callback_url=None,
                nonce=nonce,
                semantics_identifier=semantics_identifier,
            )
        )

    async def signing_certificate(
        self,
        document_number: str,
        *,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
    ) -> SigningCertificate:
        """See :meth:`SmartIdClient.signing_certificate`."""
        answer = await self._post(
            f"signature/certificate/{quote(document_number, safe='')}",
            self._rp(certificate_level),
        )
        return _signing_certificate(answer, document_number)


def _signing_certificate(answer: dict[str, Any], document_number: str) -> SigningCertificate:
    state = answer.get("state")
    if state == "DOCUMENT_UNUSABLE":
        raise DocumentUnusableError("DOCUMENT_UNUSABLE", answer)
    cert = answer.get("cert")
    if state != "OK" or not isinstance(cert, dict):
        raise UnexpectedResponseError(200, answer, f"certificate state {state!r}")
    try:
        data = CertificateData(der=b64decode(cert["value"]), level=str(cert["certificateLevel"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise UnexpectedResponseError(200, answer, "malformed cert") from exc
    return SigningCertificate(document_number=document_number, cert=data)


def _id_of(session: Session | str) -> str:
    return session.session_id if isinstance(session, Session) else session
