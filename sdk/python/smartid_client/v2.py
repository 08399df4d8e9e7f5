"""HTTP clients of RP API v2: :class:`SmartIdClientV2` (sync) and
:class:`AsyncSmartIdClientV2`: authentication, signature and certificate choice by
semantics identifier or document number, PKCS#1 v1.5 over the hash the relying party sends.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

import httpx

from ._http import (
    HTTP_TIMEOUT,
    USER_AGENT,
    _AsyncPolling,
    _Base,
    _Call,
    _check,
    _check_digest,
    _session_id,
    _SyncPolling,
    _target,
)
from .errors import TransportError
from .models import Session
from .protocol import (
    CertificateLevel,
    HashAlgorithm,
    Interaction,
    SessionType,
    b64,
    verification_code,
)

__all__ = ["AsyncSmartIdClientV2", "SmartIdClientV2"]

# --- v2 ------------------------------------------------------------------------------------


class _V2Requests(_Base):
    """The v2 requests, shared by the sync and the async client."""

    api_version = 2

    def _hash_call(
        self,
        kind: str,
        hash_: bytes | None,
        hash_algorithm: HashAlgorithm,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None,
        document_number: str | None,
        certificate_level: CertificateLevel | str,
        nonce: str | None,
    ) -> _Call:
        raw = (
            hash_
            if hash_ is not None
            else secrets.token_bytes(hash_algorithm.algorithm().digest_size)
        )
        _check_digest(raw, hash_algorithm)
        if not interactions:
            raise ValueError("at least one interaction")
        body = self._rp(certificate_level) | {
            "hash": b64(raw),
            "hashType": hash_algorithm.v2_name,
            "allowedInteractionsOrder": [i.to_json() for i in interactions],
        }
        if nonce is not None:
            body["nonce"] = nonce
        session_type = (
            SessionType.AUTHENTICATION if kind == "authentication" else (SessionType.SIGNATURE)
        )

        def make(answer: dict[str, Any]) -> Session:
            return Session(
                api_version=2,
                session_id=_session_id(answer),
                session_type=session_type,
                relying_party_name=self.relying_party_name,
                scheme_name="",
                certificate_level=body["certificateLevel"],
                digest=body["hash"],
                hash_algorithm=hash_algorithm,
                interaction_types=tuple(i.type.value for i in interactions),
                verification_code=verification_code(raw),
                semantics_identifier=semantics_identifier,
                document_number=document_number,
            )

        return _Call(f"{kind}/{_target(semantics_identifier, document_number)}", body, make)

    def _choice(
        self,
        *,
        semantics_identifier: str | None,
        document_number: str | None,
        certificate_level: CertificateLevel | str,
        nonce: str | None,
    ) -> _Call:
        body = self._rp(certificate_level)
        if nonce is not None:
            body["nonce"] = nonce

        def make(answer: dict[str, Any]) -> Session:
            return Session(
                api_version=2,
                session_id=_session_id(answer),
                session_type=SessionType.CERTIFICATE_CHOICE,
                relying_party_name=self.relying_party_name,
                scheme_name="",
                certificate_level=body["certificateLevel"],
                semantics_identifier=semantics_identifier,
                document_number=document_number,
            )

        path = f"certificatechoice/{_target(semantics_identifier, document_number)}"
        return _Call(path, body, make)


class SmartIdClientV2(_V2Requests, _SyncPolling):
    """RP API v2, synchronous. ``base_url`` includes ``/v2``. Signatures are PKCS#1 v1.5
    over the hash you send; ``session.verification_code`` is the code to show."""

    def __init__(
        self,
        base_url: str,
        relying_party_uuid: str,
        relying_party_name: str,
        *,
        http: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, relying_party_uuid, relying_party_name)
        self._own_http = http is None
        self.http = http or httpx.Client(timeout=HTTP_TIMEOUT, headers={"User-Agent": USER_AGENT})

    def close(self) -> None:
        if self._own_http:
            self.http.close()

    def __enter__(self) -> SmartIdClientV2:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, call: _Call) -> Session:
        try:
            response = self.http.post(f"{self.base_url}/{call.path}", json=call.body)
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from exc
        return call.make(_check(response))

    def authentication(
        self,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        hash: bytes | None = None,  # noqa: A002 -- the API's own name
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """``authentication/{etsi|document}/…`` over ``hash`` (default: fresh random bytes
        of the hash's length, which is what a login should send)."""
        return self._start(
            self._hash_call(
                "authentication",
                hash,
                hash_algorithm,
                interactions,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                certificate_level=certificate_level,
                nonce=nonce,
            )
        )

    def signature(
        self,
        hash: bytes,  # noqa: A002 -- the API's own name
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """``signature/{etsi|document}/…`` over the digest ``hash``."""
        return self._start(
            self._hash_call(
                "signature",
                hash,
                hash_algorithm,
                interactions,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                certificate_level=certificate_level,
                nonce=nonce,
            )
        )

    def certificate_choice(
        self,
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """``certificatechoice/{etsi|document}/…``."""
        return self._start(
            self._choice(
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                certificate_level=certificate_level,
                nonce=nonce,
            )
        )


class AsyncSmartIdClientV2(_V2Requests, _AsyncPolling):
    """RP API v2 on asyncio: the same methods as :class:`SmartIdClientV2`."""

    def __init__(
        self,
        base_url: str,
        relying_party_uuid: str,
        relying_party_name: str,
        *,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, relying_party_uuid, relying_party_name)
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(
            timeout=HTTP_TIMEOUT, headers={"User-Agent": USER_AGENT}
        )

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    async def __aenter__(self) -> AsyncSmartIdClientV2:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _start(self, call: _Call) -> Session:
        try:
            response = await self.http.post(f"{self.base_url}/{call.path}", json=call.body)
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from exc
        return call.make(_check(response))

    async def authentication(
        self,
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        hash: bytes | None = None,  # noqa: A002 -- the API's own name
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """See :meth:`SmartIdClientV2.authentication`."""
        return await self._start(
            self._hash_call(
                "authentication",
                hash,
                hash_algorithm,
                interactions,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                certificate_level=certificate_level,
                nonce=nonce,
            )
        )

    async def signature(
        self,
        hash: bytes,  # noqa: A002 -- the API's own name
        interactions: Sequence[Interaction],
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        hash_algorithm: HashAlgorithm = HashAlgorithm.SHA_512,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """See :meth:`SmartIdClientV2.signature`."""
        return await self._start(
            self._hash_call(
                "signature",
                hash,
                hash_algorithm,
                interactions,
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                certificate_level=certificate_level,
                nonce=nonce,
            )
        )

    async def certificate_choice(
        self,
        *,
        semantics_identifier: str | None = None,
        document_number: str | None = None,
        certificate_level: CertificateLevel | str = CertificateLevel.QUALIFIED,
        nonce: str | None = None,
    ) -> Session:
        """See :meth:`SmartIdClientV2.certificate_choice`."""
        return await self._start(
            self._choice(
                semantics_identifier=semantics_identifier,
                document_number=document_number,
                certificate_level=certificate_level,
                nonce=nonce,
            )
        )
