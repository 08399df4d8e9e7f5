"""Key operations with a retransmit nonce (CSR signature §2.4, confirm §3.3, refresh §4).

Before sending one, the app records the exact request in its state. A network error is
retried once with the same body; if the answer is still missing, the record stays and the
next operation on that key first sends it again (:func:`recover`) — the service answers a
repeat identically, so the app learns its new token instead of presenting a stale one
later (which would look like a clone).

Callers hold the key's lock (:meth:`device.session.Session.key_lock`) around
:func:`recover` and :func:`key_call`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from device.checks import check_certificate
from device.errors import ApiError
from device.session import Session
from device.state import AccountRecord, KeyRecord, PendingRequest, b64
from device.wire import base64_field, field, json_object, required_string, to_json, token

RNONCE_BYTES = 16


def new_rnonce() -> str:
    """A fresh retransmit nonce, Base64 (one per operation, kept for its retransmissions)."""
    return b64(secrets.token_bytes(RNONCE_BYTES))


def key_call(
    session: Session,
    account: AccountRecord,
    key: KeyRecord,
    kind: str,
    path: str,
    payload: Mapping[str, object],
) -> dict[str, Any]:
    """Record the request, send it (one retry), apply the answer to the key and account."""
    with session.lock:
        key.pending = PendingRequest(kind=kind, path=path, body=to_json(payload))
        session.save()
    return _deliver(session, account, key)


def recover(session: Session, account: AccountRecord, key: KeyRecord) -> None:
    """Fetch the answer of an earlier request that never got one (see the module doc)."""
    if key.pending is None:
        return
    try:
        _deliver(session, account, key)
    except ApiError:
        pass  # the service no longer knows it: nothing was spent, or it is over


def _deliver(session: Session, account: AccountRecord, key: KeyRecord) -> dict[str, Any]:
    pending = key.pending
    assert pending is not None  # noqa: S101 - callers set it
    try:
        answer = session.send(
            "POST", pending.path, pending.body, device_id=account.device_id, retry=True
        )
    except ApiError:
        with session.lock:
            key.pending = None
            session.save()
        raise
    with session.lock:
        try:
            _apply(account, key, pending.kind, answer)
        finally:
            key.pending = None
            session.save()
    return answer


def _apply(account: AccountRecord, key: KeyRecord, kind: str, answer: Mapping[str, Any]) -> None:
    """Take the new token first (even if the rest of the answer is wrong), then the rest."""
    new_token = token(answer)
    if new_token is not None:
        key.token = new_token
    status = required_string(answer, "status")
    if status in {"REVOKED", "CLONE_DETECTED"}:
        key.state = "REVOKED"
        if status == "CLONE_DETECTED":
            account.state = "CLOSED"
    if kind == "csr" and status == "OK":
        if answer.get("certificate") is None:
            key.state = "ISSUING"  # the CA is still at work: §2.5 brings it
        else:
            store_certificate(key, base64_field(answer, "certificate"))
        summary = json_object(field(answer, "account"), "account")
        account.state = required_string(summary, "state")
    elif kind == "confirm" and status == "OK":
        key.state = "ACTIVE"


def store_certificate(key: KeyRecord, certificate: bytes) -> None:
    """Keep a key's certificate (§2.4, §2.5) once it is checked to be for the key's n."""
    assert key.n is not None  # noqa: S101 - set at §2.2
    check_certificate(certificate, n=key.n)
    key.certificate = certificate
    key.state = "ACTIVE"
