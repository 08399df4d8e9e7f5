"""The RP API's rules: who may ask, whom a session goes to, and what the answer says.

Wire formats follow docs/spec/rp-api.md (Smart-ID RP API v1 and v2); the
HTTP status of each refusal is the one the official clients expect (§1.4).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.identifiers import (
    InvalidIdentifier,
    parse_document_number,
    parse_semantics_identifier,
)
from accounts.models import Account, Person
from accounts.seen import device_last_ip
from api.rp import metrics
from api.rp.models import RelyingParty, RpSession, networks_allow
from api.rp.v3 import vocabulary
from core import ratelimit
from core.compiled import Arg, CompiledQuery, attach_related
from core.errors import DomainError
from pki.models import Certificate
from signing.models import SplitKey, Transaction
from signing.services.transactions import transaction_create, transaction_expire

IDEMPOTENCY_WINDOW = timedelta(seconds=15)
logger = logging.getLogger(__name__)
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


# Every RP request reads its relying party, every poll the session's transactions
# (with what the answer shows): compiled once per connection (core/compiled.py).
_ACTIVE_RP = CompiledQuery(
    lambda: RelyingParty.objects.filter(
        uuid=Arg("uuid", RelyingParty._meta.get_field("uuid")), active=True
    )[:1]
)
_SESSION_TRANSACTIONS = CompiledQuery(
    lambda: Transaction.objects.filter(
        group=Arg("group", Transaction._meta.get_field("group"))
    ).select_related("account", "key__certificate", "account__device")
)


def _usable_keys(**target: Arg) -> CompiledQuery[SplitKey]:
    """The keys of the target's accounts that can sign for a purpose now: active, with a
    good certificate that has not expired (oldest first)."""
    return CompiledQuery(
        lambda: SplitKey.objects.filter(
            **target,
            purpose=Arg("purpose", SplitKey._meta.get_field("purpose")),
            state=SplitKey.State.ACTIVE,
            certificate__status=Certificate.Status.GOOD,
            certificate__not_after__gt=Arg("now", Certificate._meta.get_field("not_after")),
        ).order_by("pk")
    )


# The session's target: the accounts (with their device) and their usable keys.
_WHO = Arg("who", Person._meta.get_field("semantics_identifier"))
_DOCUMENT = Arg("document", Account._meta.get_field("document_number"))
_ACCOUNTS_OF_PERSON = CompiledQuery(
    lambda: Account.objects.select_related("device").filter(person__semantics_identifier=_WHO)
)
_ACCOUNTS_BY_DOCUMENT = CompiledQuery(
    lambda: Account.objects.select_related("device").filter(document_number=_DOCUMENT)
)
_USABLE_KEYS_OF_PERSON = _usable_keys(account__person__semantics_identifier=_WHO)
_USABLE_KEYS_BY_DOCUMENT = _usable_keys(account__document_number=_DOCUMENT)


def authenticate(*, rp_uuid: str, rp_name: str, address: str) -> RelyingParty:
    """The relying party behind a request: UUID, name (case-insensitive) and address."""
    try:
        parsed = uuid.UUID(rp_uuid)
    except (ValueError, TypeError, AttributeError):
        raise Unauthorized("Unknown relying party.") from None
    if str(parsed) != rp_uuid.lower():  # uuid.UUID also takes "{…}", "urn:uuid:…", no hyphens
        raise Unauthorized("Unknown relying party.")
    rp = _ACTIVE_RP.first(uuid=parsed)
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
    purpose = (
        SplitKey.Purpose.AUTH
        if request.kind == RpSession.Kind.AUTHENTICATION
        else SplitKey.Purpose.SIGN
    )
    # Each account with its usable keys for the purpose read along (one more statement,
    # not one per account): the key the transaction will use (signing.services.transactions).
    if request.target_kind == "etsi":
        try:
            semantics = parse_semantics_identifier(request.target)
        except InvalidIdentifier:
            raise NotFound("No such person.") from None
        accounts = _ACCOUNTS_OF_PERSON.all(who=str(semantics))
        keys = (
            _USABLE_KEYS_OF_PERSON.all(who=str(semantics), purpose=purpose, now=timezone.now())
            if accounts
            else []
        )
    else:
        try:
            parse_document_number(request.target)
        except InvalidIdentifier:
            raise NotFound("No such document.") from None
        accounts = _ACCOUNTS_BY_DOCUMENT.all(document=request.target)
        keys = (
            _USABLE_KEYS_BY_DOCUMENT.all(
                document=request.target, purpose=purpose, now=timezone.now()
            )
            if accounts
            else []
        )
    for account in accounts:
        attach_related(account, "keys", [k for k in keys if k.account_id == account.pk])
    good = {account.pk for account in accounts if account.keys.all()}
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
    recent = _recent_session(rp, fingerprint)
    if recent is not None:
        return recent
    accounts = _target_accounts(request)
    session = (create or _create)(rp, request, fingerprint, accounts)
    _remember(session)
    metrics.count_started(session)
    return session


def _fingerprint_key(fingerprint: str) -> str:
    return f"{settings.CACHE_NAMESPACE}:rp-session-fingerprint:{fingerprint}"


def _recent_session(rp: RelyingParty, fingerprint: str) -> RpSession | None:
    """The identical session started within IDEMPOTENCY_WINDOW, if any.

    Remembered in the shared cache, so the usual case (there is none) costs no SQL; if the
    cache cannot be reached, the sessions table answers (``fingerprint`` is indexed).
    """
    try:
        entry = cache.get(_fingerprint_key(fingerprint))
    except Exception:  # the cache is down: ask the database instead
        logger.warning("idempotency: cache unavailable, asking the database", exc_info=True)
        return (
            RpSession.objects.filter(
                relying_party=rp,
                fingerprint=fingerprint,
                created_at__gte=timezone.now() - IDEMPOTENCY_WINDOW,
            )
            .order_by("-created_at")
            .first()
        )
    if not (isinstance(entry, list) and len(entry) == 2):
        return None
    session_id, created = entry
    if timezone.now().timestamp() - float(created) > IDEMPOTENCY_WINDOW.total_seconds():
        return None
    # Still there and this RP's (an entry outlives a database that was reset).
    return RpSession.objects.filter(pk=session_id, relying_party=rp).first()


def _remember(session: RpSession) -> None:
    entry = [str(session.pk), session.created_at.timestamp()]
    seconds = int(IDEMPOTENCY_WINDOW.total_seconds()) + 5

    def remember() -> None:
        try:
            cache.set(_fingerprint_key(session.fingerprint), entry, seconds)
        except Exception:  # no cache: the next identical request asks the database
            logger.warning("idempotency: cache unavailable", exc_info=True)

    transaction.on_commit(remember)


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
            has_alternatives=len(accounts) > 1,
        )
    return session


# --- status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    body: dict[str, Any]
    complete: bool
    next_deadline: datetime | None  # when a pending transaction times out
    readable_until: datetime | None = None  # completion + 5 minutes


def relying_parties_at(address: str) -> list[int]:
    """The relying parties whose allowed networks hold ``address`` (whatever it asks for)."""
    rows = RelyingParty.objects.values_list("pk", "allowed_networks")
    return [pk for pk, networks in rows if networks_allow(networks, address)]


def _lookup_sql(relying_parties: int) -> str:
    """The keyed query of :func:`session_for`, for this many allowed relying parties.

    A session is readable until 5 minutes after its decisive answer (the earliest answer
    that is not CANCELLED, so "some such answer is that old" is the same test) or, for
    a device link nobody opened (no transaction), until its lifetime + 5 minutes
    (api.rp.v3.status.link_deadline). Written in SQL, not the ORM, because this runs at
    every poll and the ORM compiles its two subqueries anew each time: measured on the
    loaded 2-core test machine, 2.7 ms per lookup through the ORM against 0.35 ms here
    (the old single-table lookup took 0.65 ms).
    """
    quote = connection.ops.quote_name
    s, t = RpSession._meta, Transaction._meta

    def column(meta: Any, name: str) -> str:
        return quote(meta.get_field(name).column)

    session_pk, group = column(s, "id"), column(t, "group")
    in_list = ", ".join(["%s"] * relying_parties)
    # S608: the names come from the models' _meta and every value is a parameter.
    return (
        f"SELECT * FROM {quote(s.db_table)} s"  # noqa: S608
        f" WHERE s.{session_pk} = %s AND s.{column(s, 'api_version')} = %s"
        f" AND s.{column(s, 'relying_party')} IN ({in_list})"
        f" AND NOT EXISTS (SELECT 1 FROM {quote(t.db_table)} t WHERE t.{group} = s.{session_pk}"
        f" AND t.{column(t, 'state')} = %s AND t.{column(t, 'result')} <> %s"
        f" AND t.{column(t, 'completed_at')} < %s)"
        f" AND (s.{column(s, 'created_at')} >= %s"
        f" OR EXISTS (SELECT 1 FROM {quote(t.db_table)} u WHERE u.{group} = s.{session_pk}))"
    )


def session_for(*, session_id: uuid.UUID, address: str, version: int) -> RpSession:
    """The session if the caller's address belongs to its relying party; else NotFound.

    An unknown id, another RP's session, a session finished more than 5 minutes ago and
    a session of another API version all give the same 404: each version answers only
    in its own vocabulary (api.rp.v3.vocabulary). They also take the same path and the
    same time (no oracle of which ids exist): the relying parties allowed at the
    address are found first, whatever the id, and the id, those relying parties, the
    version and "still readable" are then one keyed query, which returns no row in all
    four cases. Nothing about the id is read from a cache before it (api.rp.lookup).
    """
    relying_parties = relying_parties_at(address)
    if not relying_parties:  # depends on the address only, never on the id
        raise NotFound("Session not found.")
    readable_from = timezone.now() - READABLE_AFTER_COMPLETION
    id_field = RpSession._meta.get_field("id")
    assert isinstance(id_field, models.UUIDField)
    adapt_time = connection.ops.adapt_datetimefield_value
    params = [
        id_field.get_db_prep_value(session_id, connection),
        version,
        *relying_parties,
        Transaction.State.COMPLETE.value,
        Transaction.Result.CANCELLED.value,
        adapt_time(readable_from),
        adapt_time(readable_from - SESSION_TTL),
    ]
    found = list(RpSession.objects.raw(_lookup_sql(len(relying_parties)), params))
    if not found:
        raise NotFound("Session not found.")
    return found[0]


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
    transactions = _SESSION_TRANSACTIONS.all(group=session.pk)
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
    """The certificate of the key that answered ``tx`` (of the signing key for a choice)."""
    # The transaction's own key (read along with it: no query); a certificate choice
    # has none and looks the signing key's certificate up.
    if tx.key is not None and tx.key.certificate is not None:
        return bytes(tx.key.certificate.der)
    purpose = (
        SplitKey.Purpose.AUTH
        if tx.kind == Transaction.Kind.AUTHENTICATION
        else SplitKey.Purpose.SIGN
    )
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
        if session.share_device_ip and (address := device_last_ip(tx.account.device)):
            body["deviceIpAddress"] = address
    if session.ignored_properties:
        body["ignoredProperties"] = session.ignored_properties
    return body
