"""The RP API's rules: who may ask, whom a session goes to, and what the answer says.

Wire formats follow docs/spec/rp-api.md (Smart-ID RP API v1 and v2); the
HTTP status of each refusal is the one the official clients expect (§1.4).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.identifiers import (
    InvalidIdentifier,
    parse_document_number,
    parse_semantics_identifier,
)
from accounts.models import Account, Person
from api.rp.models import RelyingParty, RpSession
from api.rp.v3 import vocabulary
from core import ratelimit
from core.errors import DomainError
from pki.models import Certificate
from signing.models import SplitKey, Transaction
from signing.services.transactions import transaction_create, transaction_expire

IDEMPOTENCY_WINDOW = timedelta(seconds=15)
READABLE_AFTER_COMPLETION = timedelta(minutes=5)
SESSION_TTL = timedelta(minutes=2)
LEVELS = {"ADVANCED": 1, "QUALIFIED": 2}
ALGORITHMS = {
    "SHA256": "sha256WithRSAEncryption",
    "SHA384": "sha384WithRSAEncryption",
    "SHA512": "sha512WithRSAEncryption",
}


class RpError(DomainError):
    status = 400
    code = "invalid_request"


class Unauthorized(RpError):
    status = 401
    code = "unauthorized"


class Forbidden(RpError):
    status = 403
    code = "forbidden"


class NotFound(RpError):
    status = 404
    code = "not_found"


class NoSuitableAccount(RpError):
    status = 471
    code = "no_suitable_account"


class ViewApp(RpError):
    status = 472
    code = "person_should_view_app"


class Maintenance(RpError):
    status = 580
    code = "maintenance"


def authenticate(*, rp_uuid: str, rp_name: str, address: str) -> RelyingParty:
    """The relying party behind a request: UUID, name (case-insensitive) and address."""
    try:
        parsed = uuid.UUID(rp_uuid)
    except (ValueError, TypeError, AttributeError):
        raise Unauthorized("Unknown relying party.") from None
    if str(parsed) != rp_uuid.lower():  # uuid.UUID also takes "{…}", "urn:uuid:…", no hyphens
        raise Unauthorized("Unknown relying party.")
    rp = RelyingParty.objects.filter(uuid=parsed, active=True).first()
    if rp is None or rp.name.casefold() != rp_name.casefold() or not rp.allows_address(address):
        raise Unauthorized("Unknown relying party.")
    return rp


@dataclass(frozen=True)
class SessionRequest:
    """A validated RP request (the views check the wire format)."""

    version: int
    kind: str
    target_kind: str  # "etsi" | "document"
    target: str
    certificate_level: str
    hash: bytes | None
    hash_type: str
    interactions: list[dict[str, str]]
    share_device_ip: bool
    ignored_properties: list[str]
    fingerprint_source: Any


def _eligible(accounts: list[Account], level: str) -> list[Account]:
    wanted = LEVELS["QUALIFIED" if level == "QSCD" else level]
    return [a for a in accounts if LEVELS[a.level] >= wanted]


def _target_accounts(request: SessionRequest) -> list[Account]:
    """The accounts the session may go to, or the spec's refusal (404/471/472).

    None for an anonymous v3 device link (no target): whoever opens the link answers.
    """
    if not request.target_kind:
        return []
    if request.target_kind == "etsi":
        try:
            semantics = parse_semantics_identifier(request.target)
        except InvalidIdentifier:
            raise NotFound("No such person.") from None
        person = Person.objects.filter(semantics_identifier=str(semantics)).first()
        accounts = list(person.accounts.select_related("device")) if person else []
    else:
        try:
            parse_document_number(request.target)
        except InvalidIdentifier:
            raise NotFound("No such document.") from None
        accounts = list(
            Account.objects.select_related("device").filter(document_number=request.target)
        )
    purpose = (
        SplitKey.Purpose.AUTH
        if request.kind == RpSession.Kind.AUTHENTICATION
        else SplitKey.Purpose.SIGN
    )
    good = set(
        SplitKey.objects.filter(
            account__in=accounts,
            purpose=purpose,
            state=SplitKey.State.ACTIVE,
            certificate__status=Certificate.Status.GOOD,
            certificate__not_after__gt=timezone.now(),
        ).values_list("account_id", flat=True)
    )
    # An account whose certificate is on hold, revoked or expired cannot be used, even if
    # the account row still says ACTIVE (a certificate suspended by an operator, or an
    # account past its validity, signing.services.expiry): the person should look at the
    # app or the portal (v1/v2 472, v3 404 PERSON_SHOULD_VIEW_SMART_ID_PORTAL).
    held = [a for a in accounts if a.state == Account.State.ACTIVE and a.pk not in good]
    active = [a for a in accounts if a.state == Account.State.ACTIVE and a.pk in good]
    if not active and held:
        raise ViewApp("The person should check the Smart-ID app or portal.")
    if not active:
        if any(a.state in (Account.State.LOCKED, Account.State.SUSPENDED) for a in accounts):
            raise ViewApp("The person should check the Smart-ID app or portal.")
        raise NotFound("No such person or document.")
    eligible = _eligible(active, request.certificate_level)
    if not eligible:
        raise NoSuitableAccount("No suitable account found.")
    return eligible


def _check_permissions(rp: RelyingParty, request: SessionRequest) -> None:
    allowed = {
        RpSession.Kind.AUTHENTICATION: rp.can_authenticate,
        RpSession.Kind.SIGNATURE: rp.can_sign,
        RpSession.Kind.CERTIFICATE_CHOICE: rp.can_choose_certificate,
    }[RpSession.Kind(request.kind)]
    if not allowed:
        raise Forbidden("The relying party may not start this kind of session.")
    if request.certificate_level == "ADVANCED" and not rp.allow_advanced:
        raise Forbidden("The relying party may not use ADVANCED accounts.")


class TooManyRequests(RpError):
    """Over the relying party's start rate: 429 with ``Retry-After``, nothing created."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _count_start(rp: RelyingParty) -> None:
    """One session start of ``rp`` against its per-second budget, shared by every node."""
    per_second = rp.session_starts_per_second or settings.RP_STARTS_PER_SECOND
    try:
        ratelimit.hit(ratelimit.Limit("rp_start", per_second, 1), str(rp.pk))
    except ratelimit.RateLimited as exc:
        raise TooManyRequests(
            f"Too many session starts (over {per_second} per second); try again later.",
            retry_after=exc.retry_after,
        ) from None


def _fingerprint(rp: RelyingParty, request: SessionRequest) -> str:
    canonical = json.dumps(
        [
            rp.pk,
            request.version,
            request.kind,
            request.target_kind,
            request.target,
            request.fingerprint_source,
        ],
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


Create = Callable[[RelyingParty, SessionRequest, str, list[Account]], RpSession]


def session_start(
    *, rp: RelyingParty, request: SessionRequest, create: Create | None = None
) -> RpSession:
    """Start a session (or return the identical one started within 15 s).

    ``create`` makes the session and its transactions once the relying party, its
    permissions and the target have passed (RP API v3 brings its own, api.rp.v3.services).
    """
    if settings.RP_API_MAINTENANCE:
        raise Maintenance("The service is under maintenance.")
    _check_permissions(rp, request)
    _count_start(rp)
    fingerprint = _fingerprint(rp, request)
    recent = (
        RpSession.objects.filter(
            relying_party=rp,
            fingerprint=fingerprint,
            created_at__gte=timezone.now() - IDEMPOTENCY_WINDOW,
        )
        .order_by("-created_at")
        .first()
    )
    if recent is not None:
        return recent
    accounts = _target_accounts(request)
    return (create or _create)(rp, request, fingerprint, accounts)


def target_accounts(*, rp: RelyingParty, request: SessionRequest) -> list[Account]:
    """What :func:`session_start` checks before it creates anything: maintenance, the
    relying party's permissions and the target's eligible accounts (or the refusal).
    For requests that create no session (RP API v3 ``signature/certificate``)."""
    if settings.RP_API_MAINTENANCE:
        raise Maintenance("The service is under maintenance.")
    _check_permissions(rp, request)
    _count_start(rp)
    return _target_accounts(request)


@transaction.atomic
def _create(
    rp: RelyingParty, request: SessionRequest, fingerprint: str, accounts: list[Account]
) -> RpSession:
    session = RpSession.objects.create(
        relying_party=rp,
        kind=request.kind,
        api_version=request.version,
        fingerprint=fingerprint,
        hash_type=request.hash_type,
        certificate_level=request.certificate_level,
        share_device_ip=request.share_device_ip and rp.can_see_device_ip,
        ignored_properties=request.ignored_properties,
    )
    for account in accounts:
        transaction_create(
            account=account,
            kind=request.kind,
            rp_name=rp.display_name,
            interactions=request.interactions,
            digest=request.hash,
            hash_type=request.hash_type,
            ttl=SESSION_TTL,
            group=session.pk,
        )
    return session


# --- status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    body: dict[str, Any]
    complete: bool
    next_deadline: datetime | None  # when a pending transaction times out
    readable_until: datetime | None = None  # completion + 5 minutes


def session_for(*, session_id: uuid.UUID, address: str, version: int | None = None) -> RpSession:
    """The session if the caller's address belongs to its relying party; else NotFound.

    An unknown id, another RP's session, a session finished more than 5 minutes ago and
    (given ``version``) a session of another API version all give the same 404: each
    version answers only in its own vocabulary (api.rp.v3.vocabulary).
    """
    session = RpSession.objects.select_related("relying_party").filter(pk=session_id).first()
    if session is None or not session.relying_party.allows_address(address):
        raise NotFound("Session not found.")
    if version is not None and session.api_version != version:
        raise NotFound("Session not found.")
    return session


def _decisive(transactions: list[Transaction]) -> Transaction | None:
    done = [
        t
        for t in transactions
        if t.state == Transaction.State.COMPLETE and t.result != Transaction.Result.CANCELLED
    ]
    return min(done, key=lambda t: t.completed_at or timezone.now()) if done else None


def session_status(
    session: RpSession,
    complete_body: Callable[[RpSession, Transaction], dict[str, Any]] | None = None,
) -> Status:
    """The RP's view of a session now (expiring overdue transactions first).

    ``complete_body`` writes the final answer (v1/v2 by default; v3 brings its own).
    """
    transactions = list(
        Transaction.objects.filter(group=session.pk).select_related(
            "account", "key__certificate", "account__device"
        )
    )
    now = timezone.now()
    for tx in transactions:
        if tx.state == Transaction.State.PENDING and tx.expires_at <= now:
            transaction_expire(transaction_id=tx.pk)
            tx.refresh_from_db()
    decided = _decisive(transactions)
    if decided is None:
        pending = [t.expires_at for t in transactions if t.state == Transaction.State.PENDING]
        body: dict[str, Any] = {"state": "RUNNING"}
        if session.ignored_properties:
            body["ignoredProperties"] = session.ignored_properties
        return Status(body, False, min(pending) if pending else None)
    completed_at = decided.completed_at or now
    if now - completed_at > READABLE_AFTER_COMPLETION:
        raise NotFound("Session not found.")
    body = (complete_body or _complete_body)(session, decided)
    return Status(body, True, None, completed_at + READABLE_AFTER_COMPLETION)


def _end_result(session: RpSession, tx: Transaction) -> str:
    """In the session's own vocabulary (v1 never hears a v2 word, v2 never a v3 one)."""
    return vocabulary.end_result(session.api_version, tx)


def transaction_certificate_der(tx: Transaction) -> bytes | None:
    """The certificate of the key that answered ``tx`` (its account's current one for a
    certificate choice)."""
    purpose = (
        SplitKey.Purpose.AUTH
        if tx.kind == Transaction.Kind.AUTHENTICATION
        else SplitKey.Purpose.SIGN
    )
    if tx.key is not None and tx.key.certificate is not None:
        return bytes(tx.key.certificate.der)  # the key that signed, even if since re-keyed
    return certificate_der(tx.account, purpose)


def certificate_der(account: Account, purpose: str) -> bytes | None:
    """The DER certificate of the account's key for ``purpose`` (AUTH or SIGN), if any
    (after a re-key: the current key's)."""
    key = (
        SplitKey.objects.select_related("certificate")
        .filter(account=account, purpose=purpose, certificate__isnull=False)
        .order_by("-pk")
        .first()
    )
    if key is None or key.certificate is None:
        return None
    return bytes(key.certificate.der)


def _complete_body(session: RpSession, tx: Transaction) -> dict[str, Any]:
    end_result = _end_result(session, tx)
    body: dict[str, Any] = {"state": "COMPLETE", "result": {"endResult": end_result}}
    if end_result == "OK":
        certificate = transaction_certificate_der(tx)
        body["result"]["documentNumber"] = tx.account.document_number
        if certificate is not None:
            body["cert"] = {
                "value": base64.b64encode(certificate).decode(),
                "certificateLevel": tx.account.level,
            }
        if tx.kind != Transaction.Kind.CERTIFICATE_CHOICE and tx.signature is not None:
            body["signature"] = {
                "value": base64.b64encode(bytes(tx.signature)).decode(),
                "algorithm": ALGORITHMS[tx.hash_type],
            }
            body["interactionFlowUsed"] = tx.interaction_used
        if session.share_device_ip and tx.account.device.last_ip:
            body["deviceIpAddress"] = tx.account.device.last_ip
    if session.ignored_properties:
        body["ignoredProperties"] = session.ignored_properties
    return body
