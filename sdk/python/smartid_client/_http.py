"""What the v2 and v3 clients share: the relying party, error mapping, status polling."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from .errors import (
    TransportError,
    UnexpectedResponseError,
    WaitTimeoutError,
    api_error,
    end_result_error,
)
from .models import Session, SessionStatus
from .protocol import CertificateLevel, HashAlgorithm, SignatureAlgorithm

USER_AGENT = "smartid-client-python/0.1"
#: The default long-poll of one status request (the server holds it up to this long).
DEFAULT_POLL_MS = 30_000
#: Connect/write/pool timeout of a request; reads wait ``timeoutMs`` plus this.
HTTP_TIMEOUT = 10.0


@dataclass(frozen=True)
class _Call:
    """One session start: the request and how to turn its answer into a Session."""

    path: str
    body: dict[str, Any]
    make: Callable[[dict[str, Any]], Session]


def _target(semantics_identifier: str | None, document_number: str | None) -> str:
    if (semantics_identifier is None) == (document_number is None):
        raise ValueError("give exactly one of semantics_identifier and document_number")
    if semantics_identifier is not None:
        return f"etsi/{quote(semantics_identifier, safe='')}"
    assert document_number is not None
    return f"document/{quote(document_number, safe='')}"


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _check(response: httpx.Response, *, session_status: bool = False) -> dict[str, Any]:
    body = _json(response)
    if response.status_code != 200:
        raise api_error(response.status_code, body, session_status=session_status)
    if not isinstance(body, dict):
        raise UnexpectedResponseError(200, body, "the answer is not a JSON object")
    return body


def _session_id(answer: dict[str, Any]) -> str:
    value = answer.get("sessionID")
    if not isinstance(value, str) or not value:
        raise UnexpectedResponseError(200, answer, "no sessionID in the answer")
    return value


def _hash_for(
    signature_algorithm: SignatureAlgorithm, hash_algorithm: HashAlgorithm | None
) -> HashAlgorithm:
    implied = signature_algorithm.implied_hash
    if implied is not None:
        if hash_algorithm is not None and hash_algorithm is not implied:
            raise ValueError(f"{signature_algorithm.value} implies {implied.value}")
        return implied
    return hash_algorithm or HashAlgorithm.SHA_512


def _check_digest(digest: bytes, hash_algorithm: HashAlgorithm) -> None:
    if len(digest) != hash_algorithm.algorithm().digest_size:
        raise ValueError(f"the digest's length does not fit {hash_algorithm.value}")


class _Base:
    """What both API versions share: the relying party and the polling."""

    api_version = 0

    def __init__(
        self,
        base_url: str,
        relying_party_uuid: str,
        relying_party_name: str,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.relying_party_uuid = relying_party_uuid
        self.relying_party_name = relying_party_name

    def _rp(self, level: CertificateLevel | str) -> dict[str, Any]:
        return {
            "relyingPartyUUID": self.relying_party_uuid,
            "relyingPartyName": self.relying_party_name,
            "certificateLevel": CertificateLevel(level).value,
        }

    @staticmethod
    def _status_params(timeout_ms: int) -> tuple[dict[str, int], httpx.Timeout]:
        if not 1000 <= timeout_ms <= 120_000:
            raise ValueError("timeout_ms runs from 1000 to 120000")
        return {"timeoutMs": timeout_ms}, httpx.Timeout(HTTP_TIMEOUT, read=timeout_ms / 1000 + 15)

    @staticmethod
    def _finished(status: SessionStatus) -> SessionStatus:
        if status.end_result != "OK":
            raise end_result_error(status.end_result or "", status.raw)
        return status


class _SyncPolling(_Base):
    """Status polling over a synchronous httpx client."""

    http: httpx.Client

    def session_status(
        self, session: Session | str, *, timeout_ms: int = DEFAULT_POLL_MS
    ) -> SessionStatus:
        """One long poll: RUNNING or COMPLETE (whatever the end result)."""
        session_id = session.session_id if isinstance(session, Session) else session
        params, timeout = self._status_params(timeout_ms)
        try:
            response = self.http.get(
                f"{self.base_url}/session/{quote(session_id, safe='')}",
                params=params,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from exc
        return SessionStatus.parse(_check(response, session_status=True))

    def wait(
        self,
        session: Session | str,
        *,
        timeout_ms: int = DEFAULT_POLL_MS,
        deadline_seconds: float = 180.0,
    ) -> SessionStatus:
        """Long-poll until COMPLETE; return the status if ``OK``, else raise the end
        result's :class:`~smartid_client.EndResultError`. :class:`WaitTimeoutError` if still
        RUNNING after ``deadline_seconds``."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise WaitTimeoutError("the session is still running")
            status = self.session_status(session, timeout_ms=max(1000, min(timeout_ms, left_ms)))
            if status.complete:
                return self._finished(status)


class _AsyncPolling(_Base):
    """Status polling over an asynchronous httpx client."""

    http: httpx.AsyncClient

    async def session_status(
        self, session: Session | str, *, timeout_ms: int = DEFAULT_POLL_MS
    ) -> SessionStatus:
        """One long poll: RUNNING or COMPLETE (whatever the end result)."""
        session_id = session.session_id if isinstance(session, Session) else session
        params, timeout = self._status_params(timeout_ms)
        try:
            response = await self.http.get(
                f"{self.base_url}/session/{quote(session_id, safe='')}",
                params=params,
                timeout=timeout,
            )
        except httpx.HTTPError as exc:
            raise TransportError(str(exc)) from exc
        return SessionStatus.parse(_check(response, session_status=True))

    async def wait(
        self,
        session: Session | str,
        *,
        timeout_ms: int = DEFAULT_POLL_MS,
        deadline_seconds: float = 180.0,
    ) -> SessionStatus:
        """Long-poll until COMPLETE; return the status if ``OK``, else raise the end
        result's :class:`~smartid_client.EndResultError`."""
        deadline = time.monotonic() + deadline_seconds
        while True:
            left_ms = int((deadline - time.monotonic()) * 1000)
            if left_ms <= 0:
                raise WaitTimeoutError("the session is still running")
            status = await self.session_status(
                session, timeout_ms=max(1000, min(timeout_ms, left_ms))
            )
            if status.complete:
                return self._finished(status)
