"""Starting RP API v3 sessions (docs/spec/rp-api.md §5) on top of the v1/v2 rules.

Who may ask, whom a session goes to and the 15-second idempotency are
:func:`api.rp.services.session_start`'s; this module adds what v3 stores on the session
and what it creates: a notification session gets one transaction per eligible account at
once (:func:`api.rp.v3.transactions.start_transaction`); a device-link session gets none
until an app opens its link (the app API does that, with the same function).
"""

from __future__ import annotations

import base64
import functools
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import Account
from api.rp import services
from api.rp.models import RelyingParty, RpSession
from api.rp.v3 import problems
from api.rp.v3.transactions import FlowType, start_transaction
from signing import engine
from signing.models import SplitKey, Transaction

TOKEN_CHARS = 24
TOKEN_ALPHABET = string.ascii_letters + string.digits
SECRET_BYTES = 18


@dataclass(frozen=True)
class V3Request:
    """A validated v3 request (api.rp.v3.views checks the wire format)."""

    kind: str
    flow: str  # RpSession.Flow
    target_kind: str  # "etsi" | "document" | "" (anonymous device link)
    target: str
    certificate_level: str
    share_device_ip: bool
    ignored_properties: list[str]
    body: Any  # the request body, for idempotency
    signature_protocol: str = ""
    protocol_parameters: dict[str, str] = field(default_factory=dict)
    interactions: str = ""
    initial_callback_url: str = ""
    nonce: str = ""
    capabilities: list[str] = field(default_factory=list)
    linked_session_id: str = ""


def new_session_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_CHARS))


def new_vc() -> str:
    """The verification code of a signature by notification: four random digits."""
    return engine.random_code()


def _check_ip_sharing(rp: RelyingParty, request: V3Request) -> None:
    if request.share_device_ip and not rp.can_see_device_ip:
        path = ["requestProperties", "shareMdClientIpAddress"]
        raise problems.Problem(
            403,
            "Forbidden",
            [
                problems.field_error(
                    path, "The relying party may not ask for the device's IP address."
                )
            ],
        )


def session_start(*, rp: RelyingParty, request: V3Request) -> RpSession:
    """Start a v3 session (or return the identical one started within 15 s)."""
    _check_ip_sharing(rp, request)
    generic = services.SessionRequest(
        version=3,
        kind=request.kind,
        target_kind=request.target_kind,
        target=request.target,
        certificate_level=request.certificate_level,
        hash=None,
        hash_type="",
        interactions=[],
        share_device_ip=request.share_device_ip,
        ignored_properties=request.ignored_properties,
        fingerprint_source={"flow": request.flow, "body": request.body},
    )
    return services.session_start(
        rp=rp, request=generic, create=functools.partial(_create, request)
    )


def _linked(rp: RelyingParty, request: V3Request) -> RpSession:
    """The device-link certificate choice a linked signature follows, or a 400 problem.

    It must be this relying party's, completed with OK for the very document the
    signature names, not longer ago than a status stays readable, and not followed by
    another linked signature yet.
    """
    path = ["linkedSessionID"]
    choice = (
        RpSession.objects.select_for_update()
        .filter(
            pk=request.linked_session_id,
            relying_party=rp,
            api_version=3,
            kind=RpSession.Kind.CERTIFICATE_CHOICE,
            flow=RpSession.Flow.DEVICE_LINK,
        )
        .first()
    )
    if choice is None:
        raise problems.invalid(
            path, "Not a device-link certificate choice session of this relying party."
        )
    chosen = (
        Transaction.objects.select_related("account")
        .filter(group=choice.pk, state=Transaction.State.COMPLETE, result=Transaction.Result.OK)
        .first()
    )
    if chosen is None:
        raise problems.invalid(path, "The certificate choice has not completed successfully.")
    if chosen.account.document_number != request.target:
        raise problems.invalid(path, "The certificate choice chose another document.")
    completed_at = chosen.completed_at or timezone.now()
    if timezone.now() - completed_at > services.READABLE_AFTER_COMPLETION:
        raise problems.invalid(path, "The certificate choice is too old.")
    if RpSession.objects.filter(linked_session=choice).exists():
        raise problems.invalid(path, "The certificate choice is already linked to a signature.")
    return choice


@transaction.atomic
def _create(
    request: V3Request,
    rp: RelyingParty,
    generic: services.SessionRequest,
    fingerprint: str,
    accounts: list[Account],
) -> RpSession:
    device_link = request.flow == RpSession.Flow.DEVICE_LINK
    linked = _linked(rp, request) if request.linked_session_id else None
    signature_by_notification = (
        request.kind == RpSession.Kind.SIGNATURE and not device_link and linked is None
    )
    session = RpSession.objects.create(
        relying_party=rp,
        kind=request.kind,
        api_version=3,
        fingerprint=fingerprint,
        certificate_level=request.certificate_level,
        share_device_ip=request.share_device_ip,
        ignored_properties=request.ignored_properties,
        flow=request.flow,
        target_kind=request.target_kind,
        target=request.target,
        session_token=new_session_token() if device_link else None,
        session_secret=secrets.token_bytes(SECRET_BYTES) if device_link else None,
        signature_protocol=request.signature_protocol,
        protocol_parameters=request.protocol_parameters,
        interactions=request.interactions,
        initial_callback_url=request.initial_callback_url,
        nonce=request.nonce,
        capabilities=request.capabilities,
        vc=new_vc() if signature_by_notification else "",
        linked_session=linked,
    )
    if not device_link:
        for account in accounts:
            start_transaction(
                session,
                account,
                flow_type=FlowType.NOTIFICATION,
                ttl=services.SESSION_TTL,
                has_alternatives=len(accounts) > 1,
            )
    return session


def start_answer(session: RpSession, device_link_base: str) -> dict[str, Any]:
    """The body of the 200 answer to a session start."""
    answer: dict[str, Any] = {"sessionID": str(session.pk)}
    if session.flow == RpSession.Flow.DEVICE_LINK:
        assert session.session_secret is not None and session.session_token is not None
        answer["sessionToken"] = session.session_token
        answer["sessionSecret"] = base64.b64encode(bytes(session.session_secret)).decode()
        answer["deviceLinkBase"] = device_link_base
    elif session.vc:
        answer["vc"] = {"type": "numeric4", "value": session.vc}
    return answer


def signing_certificate(
    *, rp: RelyingParty, document_number: str, certificate_level: str
) -> dict[str, Any]:
    """``signature/certificate/{docNo}``: the signing certificate, no user interaction.

    A document that exists but cannot be used now (a key on hold, a locked account)
    answers ``DOCUMENT_UNUSABLE``, as SK's document shows; an unknown one 404. It is the
    first step of a signature, so it needs the relying party's permission to sign.
    """
    request = services.SessionRequest(
        version=3,
        kind=RpSession.Kind.SIGNATURE,
        target_kind="document",
        target=document_number,
        certificate_level=certificate_level,
        hash=None,
        hash_type="",
        interactions=[],
        share_device_ip=False,
        ignored_properties=[],
        fingerprint_source=None,
    )
    try:
        accounts = services.target_accounts(rp=rp, request=request)
    except services.ViewApp:
        return {"state": "DOCUMENT_UNUSABLE"}
    account = accounts[0]
    der = services.certificate_der(account, SplitKey.Purpose.SIGN)
    if der is None:
        return {"state": "DOCUMENT_UNUSABLE"}
    return {
        "state": "OK",
        "cert": {"value": base64.b64encode(der).decode(), "certificateLevel": account.level},
    }
