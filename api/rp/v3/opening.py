"""An app opens an RP API v3 device link: the link is checked and the session gets its
transaction (docs/app-api.md §7, docs/spec/rp-api.md §5 "Device links").

The relying party computed the link from its session's token and secret; the app that
scanned (QR) or received (Web2App, App2App) it sends it as it is. The server accepts it
when, in this order:

1. it parses in its one accepted form (``signing.engine.devicelink``), version ``1.0``
   (400);
2. its session token names a v3 device-link session (404);
3. its authCode is the one the server computes from the session's secret, this
   installation's scheme name and the session's own values, its sessionType is the
   session's kind (403) — only then does the caller learn anything about the session;
4. the session was not opened before, by any device (409);
5. the session is not over, and a QR code's ``elapsedSeconds`` agrees with the time since
   the session was created, within ``RP_V3_QR_WINDOW_SECONDS`` (410);
6. the device's account may answer it: the session's target, a sufficient level, an active
   key with a good certificate (403).

Then, in one database transaction under the session's row lock, the session is marked
opened by this device and :func:`api.rp.v3.transactions.start_transaction` makes its one
transaction, for the opener's account, with the link's type as the flow type. A refused
link changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Device
from api.rp.models import RpSession
from api.rp.services import LEVELS, SESSION_TTL
from api.rp.v3.transactions import scheme_name, start_transaction
from audit.services import audit_record
from core.errors import DomainError
from pki.models import Certificate
from signing import engine
from signing.engine.devicelink import PROTOCOLS, DeviceLink, DeviceLinkType, SessionType
from signing.models import SplitKey, Transaction

#: The link version this server understands.
LINK_VERSION = "1.0"
#: A device-link session can be opened until this long after its creation.
LINK_TTL = SESSION_TTL

SESSION_TYPES = {
    RpSession.Kind.AUTHENTICATION: SessionType.AUTH,
    RpSession.Kind.SIGNATURE: SessionType.SIGN,
    RpSession.Kind.CERTIFICATE_CHOICE: SessionType.CERT,
}


class DeviceLinkError(DomainError):
    """A refused device link (the app API answers ``status`` with ``code``)."""

    status = 400
    code = "invalid_device_link"


class UnknownSession(DeviceLinkError):
    status = 404
    code = "not_found"


class LinkMismatch(DeviceLinkError):
    status = 403
    code = "auth_code_mismatch"


class NoSuitableAccount(DeviceLinkError):
    status = 403
    code = "no_suitable_account"


class AlreadyOpened(DeviceLinkError):
    status = 409
    code = "already_opened"


class LinkExpired(DeviceLinkError):
    status = 410
    code = "link_expired"


@dataclass(frozen=True)
class Opened:
    """The opened session and its new transaction; ``callback`` for same-device links:
    ``initialCallbackUrl`` and ``sessionSecretDigest`` (the app adds
    ``userChallengeVerifier`` itself for an authentication)."""

    session: RpSession
    transaction: Transaction
    callback: dict[str, str] | None


def _parse(link: str) -> DeviceLink:
    try:
        parsed = engine.parse_device_link(link)
    except engine.InvalidInput as exc:
        raise DeviceLinkError(f"Malformed device link: {exc}") from None
    if parsed.version != LINK_VERSION:
        raise DeviceLinkError(f"Unsupported device link version {parsed.version}.")
    return parsed


def expected_auth_code(session: RpSession, link: DeviceLink) -> str:
    """The authCode of ``link`` for ``session`` (LinkMismatch when they cannot belong
    together: another session type, a same-device link of a session without a callback URL).
    """
    expected_type = SESSION_TYPES[RpSession.Kind(session.kind)]
    if link.session_type is not expected_type or session.session_secret is None:
        raise LinkMismatch("The device link does not match its session.")
    params = session.protocol_parameters
    protocol = PROTOCOLS[expected_type]
    if expected_type is SessionType.AUTH:
        value = str(params.get("rpChallenge", ""))
    elif expected_type is SessionType.SIGN:
        value = str(params.get("digest", ""))
    else:
        value = ""
    try:
        payload = engine.authcode_payload(
            scheme=scheme_name(),
            signature_protocol=protocol,
            protocol_value=value,
            rp_name=session.relying_party.name,
            brokered_rp_name="",
            interactions=session.interactions if protocol else "",
            initial_callback_url=(
                "" if link.link_type is DeviceLinkType.QR else session.initial_callback_url
            ),
            unprotected_link=link.unprotected,
        )
        return engine.auth_code(bytes(session.session_secret), payload)
    except engine.InvalidInput:
        raise LinkMismatch("The device link does not match its session.") from None


def _check_time(session: RpSession, link: DeviceLink, now: datetime) -> None:
    age = now - session.created_at
    if age >= LINK_TTL or Transaction.objects.filter(group=session.pk).exists():
        raise LinkExpired("The session is over.")
    if link.elapsed_seconds is not None:
        window = timedelta(seconds=settings.RP_V3_QR_WINDOW_SECONDS)
        if abs(age - timedelta(seconds=link.elapsed_seconds)) > window:
            raise LinkExpired("The QR code is out of date: scan the current one.")


def _purpose(session: RpSession) -> str:
    return (
        SplitKey.Purpose.AUTH
        if session.kind == RpSession.Kind.AUTHENTICATION
        else SplitKey.Purpose.SIGN
    )


def eligible_account(session: RpSession, device: Device) -> Account:
    """The device's account if it may answer ``session`` (else NoSuitableAccount): the
    session's target (anonymous: anyone), at least its level, active, with an active key of
    the session's purpose whose certificate is good (a certificate choice reports the
    signing certificate).
    """
    account = (
        Account.objects.select_related("person")
        .filter(device=device, state=Account.State.ACTIVE)
        .first()
    )
    if account is None:
        raise NoSuitableAccount("This device has no active account.")
    if session.target_kind == "etsi":
        matches = account.person.semantics_identifier == session.target
    elif session.target_kind == "document":
        matches = account.document_number == session.target
    else:
        matches = not session.target
    level = "QUALIFIED" if session.certificate_level == "QSCD" else session.certificate_level
    usable = SplitKey.objects.filter(
        account=account,
        purpose=_purpose(session),
        state=SplitKey.State.ACTIVE,
        revoked=False,
        certificate__status=Certificate.Status.GOOD,
        certificate__not_after__gt=timezone.now(),  # an expired account answers nothing
    ).exists()
    if not matches or LEVELS[account.level] < LEVELS.get(level, 99) or not usable:
        raise NoSuitableAccount("No account on this device can answer this session.")
    return account


def device_link_open(*, link: str, device: Device, now: datetime | None = None) -> Opened:
    """Open a device link for ``device`` (see the module doc); raises DeviceLinkError."""
    parsed = _parse(link)
    with transaction.atomic():
        session = (
            RpSession.objects.select_for_update()
            .select_related("relying_party")
            .filter(
                session_token=parsed.session_token,
                api_version=3,
                flow=RpSession.Flow.DEVICE_LINK,
            )
            .first()
        )
        if session is None:
            raise UnknownSession("No session has this token.")
        if not engine.auth_code_matches(expected_auth_code(session, parsed), parsed.auth_code):
            raise LinkMismatch("The device link does not match its session.")
        if session.opened_at is not None:
            raise AlreadyOpened("This device link was opened before.")
        now = now or timezone.now()
        _check_time(session, parsed, now)
        account = eligible_account(session, device)
        # The row lock serialises openers on PostgreSQL; the conditional update makes the
        # second opener lose on databases without row locks too (SQLite).
        claimed = RpSession.objects.filter(pk=session.pk, opened_at__isnull=True).update(
            opened_at=now, opened_by=device
        )
        if claimed != 1:
            raise AlreadyOpened("This device link was opened before.")
        session.opened_at, session.opened_by = now, device
        tx = start_transaction(
            session,
            account,
            flow_type=parsed.link_type.value,
            ttl=session.created_at + LINK_TTL - now,
        )
        audit_record(
            actor=f"device:{device.pk}",
            action="rp_session.opened",
            object_type="rp.RpSession",
            object_id=str(session.pk),
            data={"flowType": parsed.link_type.value, "transaction": str(tx.pk)},
        )
    callback = None
    if parsed.link_type is not DeviceLinkType.QR:
        assert session.session_secret is not None  # expected_auth_code checked it
        callback = {
            "initialCallbackUrl": session.initial_callback_url,
            "sessionSecretDigest": engine.session_secret_digest(bytes(session.session_secret)),
        }
    return Opened(session=session, transaction=tx, callback=callback)
