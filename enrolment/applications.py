"""Services of the registration authority office: officers and enrolment applications.

An officer of a branch identifies a person face to face: the document they present, the
population registry (``enrolment.registry``), contact data, the account level and, for a
minor, the legal representative's consent. Risky applications wait for a supervisor
(four eyes). The application paper, carrying the registration ticket, is printed, signed
by the customer and handed back; only then is the ticket released and redeemable.

Every function that changes state is one transaction with one audit record naming the
officer and their address. Interfaces (``ra_office``) translate the errors' ``code``.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass
from datetime import date, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.identifiers import (
    InvalidIdentifier,
    parse_semantics_identifier,
    personal_code_birth_date,
)
from accounts.models import Account
from accounts.services import person_get_or_create
from audit.services import audit_record
from core.errors import DomainError
from enrolment.models import Application, Branch, Officer, RegistrationTicket
from enrolment.registry import (
    Outcome,
    PopulationRegistry,
    normalise_name,
    registry_compare,
    registry_get,
)
from enrolment.services import ticket_create

OBJECT_TYPE = "enrolment.Application"
ADULT_AGE = 18
EXPIRY_WARNING = timedelta(days=30)
NAME_MAX = 100
REASON_MAX = 500
SCAN_TYPES = {
    b"%PDF-": "application/pdf",
    b"\x89PNG\r\n\x1a\n": "image/png",
    b"\xff\xd8\xff": "image/jpeg",
}
# No 0/O or 1/I: the application number is read aloud over the phone.
_NUMBER_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
# Letters of any script, with single spaces, hyphens or apostrophes between them: no
# digits, no markup, no control characters.
_NAME = re.compile(r"[^\W\d_]+(?:[ '’-][^\W\d_]+)*")
_DOCUMENT_NUMBER = re.compile(r"[A-Z0-9]{5,20}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_PHONE = re.compile(r"\+?[0-9]{6,15}")
_UNSAFE_TEXT = re.compile(r"[<>\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# --- errors ---------------------------------------------------------------------------


class ApplicationError(DomainError):
    code = "application_error"


class ApplicationInvalid(ApplicationError):
    """Bad applicant data; ``field`` names the form field it belongs to ("" = none)."""

    code = "invalid"

    def __init__(self, message: str, *, field: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field


class WrongState(ApplicationError):
    code = "wrong_state"


class NotFound(ApplicationError):
    code = "not_found"


class FourEyesViolation(ApplicationError):
    code = "four_eyes"


class NotSupervisor(ApplicationError):
    code = "not_supervisor"


class TicketUnavailable(ApplicationError):
    code = "ticket_unavailable"


class OfficerError(DomainError):
    code = "officer_error"


def applicant_identifier(value: str) -> tuple[str, date | None]:
    """A person's semantics identifier, normalised; with the birth date its code carries.

    Only personal numbers (``PNO``) of natural persons: EE and LT codes must be valid
    (check digit and date); other countries' codes are taken as written.
    """
    try:
        semantics = parse_semantics_identifier(value.strip().upper())
    except InvalidIdentifier as exc:
        raise ApplicationInvalid(
            exc.message, field="semantics_identifier", code="invalid_identifier"
        ) from None
    if semantics.type != "PNO":
        raise ApplicationInvalid(
            "The RA office enrols personal numbers (PNO…) only.",
            field="semantics_identifier",
            code="pno_only",
        )
    if semantics.country in ("EE", "LT"):
        try:
            return str(semantics), personal_code_birth_date(semantics.identifier)
        except InvalidIdentifier as exc:
            raise ApplicationInvalid(
                exc.message, field="semantics_identifier", code="invalid_personal_code"
            ) from None
    return str(semantics), None


def age_on(born: date, day: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


# --- officers -------------------------------------------------------------------------


@transaction.atomic
def officer_create(
    *,
    username: str,
    password: str,
    branch: Branch,
    role: str,
    actor: str,
    given_name: str = "",
    surname: str = "",
) -> tuple[Officer, TOTPDevice]:
    """A user with an officer profile and an unconfirmed TOTP device.

    The device's key is shown once (the command prints it, the first login shows the
    QR code); the first code entered confirms it.
    """
    if role not in Officer.Role.values:
        raise OfficerError("The role is officer or supervisor.")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise OfficerError(f"The user {username!r} exists already.")
    user = user_model.objects.create_user(
        username=username, password=password, first_name=given_name, last_name=surname
    )
    officer = Officer.objects.create(user=user, branch=branch, role=role)
    device = TOTPDevice.objects.create(user=user, name="RA office", confirmed=False)
    audit_record(
        actor=actor,
        action="officer.created",
        object_type="enrolment.Officer",
        object_id=officer.pk,
        data={"username": username, "branch": branch.code, "role": role},
    )
    return officer, device


def officer_by_username(username: str) -> Officer | None:
    """The officer with this user name (an active user), else None; one query either way,
    so the login does the same work for a name that is nobody's."""
    return (
        Officer.objects.select_related("user", "branch__authority")
        .filter(user__username=username, user__is_active=True)
        .first()
    )


def officer_for_user(user: AbstractBaseUser | object) -> Officer | None:
    """The user's officer profile (None: not an officer, e.g. a plain administrator)."""
    pk = getattr(user, "pk", None)
    if pk is None or not getattr(user, "is_active", False):
        return None
    return Officer.objects.select_related("user", "branch__authority").filter(user_id=pk).first()


@transaction.atomic
def officer_totp_device(*, officer: Officer, source_ip: str | None) -> TOTPDevice:
    """The officer's TOTP device: the confirmed one, or the one waiting for enrolment."""
    confirmed = TOTPDevice.objects.filter(user=officer.user, confirmed=True).first()
    if confirmed is not None:
        return confirmed
    device = TOTPDevice.objects.filter(user=officer.user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=officer.user, name="RA office", confirmed=False)
        audit_record(
            actor=officer.actor,
            action="officer.totp_device_created",
            object_type="enrolment.Officer",
            object_id=officer.pk,
            source_ip=source_ip,
        )
    return device


@transaction.atomic
def officer_totp_reset(*, officer: Officer, actor: str) -> int:
    """Delete the officer's TOTP devices (a lost phone): the next login enrols a new one,
    which still needs the officer's password. Returns the number of devices removed.
    """
    count: int = TOTPDevice.objects.filter(user=officer.user).delete()[0]
    audit_record(
        actor=actor,
        action="officer.totp_reset",
        object_type="enrolment.Officer",
        object_id=officer.pk,
        data={"devices": count},
    )
    return count


@transaction.atomic
def officer_totp_verify(*, device: TOTPDevice, token: str) -> bool:
    """Check a TOTP code with the device row locked: two logins racing with one code cannot
    both pass django-otp's "not used before" rule (it reads and writes ``last_t``).
    """
    locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    verified = bool(locked.verify_token(token))
    device.refresh_from_db()
    return verified


UNKNOWN_USER_ACTOR = "ra_office:unknown-user"


def officer_login_failed(
    *, officer: Officer | None, step: str, locked: bool, source_ip: str | None
) -> None:
    """Record a wrong password or TOTP code at the RA office login (``locked``: this one
    made the user name + address wait ``RA_LOCKOUT_MINUTES``; ``ra_office.throttle``
    counts). A user name that is no officer's gets a record too — the same work, so the
    login takes as long for it — naming nobody: the typed name is not kept, as it may be
    a password typed into the wrong field, and the log is append-only.
    """
    audit_record(
        actor=officer.actor if officer is not None else UNKNOWN_USER_ACTOR,
        action="officer.locked" if locked else "officer.login_failed",
        object_type="enrolment.Officer",
        object_id=officer.pk if officer is not None else "",
        source_ip=source_ip,
        data={"step": step},
    )


@transaction.atomic
def officer_login_succeeded(
    *, officer: Officer, device: TOTPDevice, source_ip: str | None
) -> Officer:
    """Password and TOTP were right; a first code confirms the device."""
    row = Officer.objects.select_for_update().get(pk=officer.pk)
    enrolled = not device.confirmed
    if enrolled:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        # One authenticator per officer: stale unconfirmed devices go.
        TOTPDevice.objects.filter(user=row.user, confirmed=False).delete()
        row.totp_confirmed = True
        row.save(update_fields=["totp_confirmed"])
    audit_record(
        actor=row.actor,
        action="officer.logged_in",
        object_type="enrolment.Officer",
        object_id=row.pk,
        source_ip=source_ip,
        data={"totp_enrolled": enrolled},
    )
    return row


def officer_logged_out(*, officer: Officer, reason: str, source_ip: str | None) -> None:
    """Record the end of a session (logout or idle timeout)."""
    audit_record(
        actor=officer.actor,
        action="officer.logged_out",
        object_type="enrolment.Officer",
        object_id=officer.pk,
        source_ip=source_ip,
        data={"reason": reason},
    )


# --- applications ---------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationInput:
    """What the officer enters; validated by :func:`application_create`."""

    semantics_identifier: str
    given_name: str
    surname: str
    date_of_birth: date
    document_type: str
    document_number: str
    document_country: str
    document_expiry: date
    document_checked: bool
    level: str
    email: str = ""
    phone: str = ""
    representative_name: str = ""
    representative_identifier: str = ""
    representative_consent: bool = False


def _name(value: str, field: str, limit: int = NAME_MAX) -> str:
    value = " ".join(value.split()) if isinstance(value, str) else ""
    if not value or len(value) > limit or _NAME.fullmatch(value) is None:
        raise ApplicationInvalid(
            "Use letters, spaces, hyphens and apostrophes only.", field=field, code="invalid_name"
        )
    return value


def _validated(data: ApplicationInput, today: date) -> dict[str, object]:
    identifier, code_birth_date = applicant_identifier(data.semantics_identifier)
    if not date(1900, 1, 1) <= data.date_of_birth <= today:
        raise ApplicationInvalid(
            "The date of birth is not plausible.", field="date_of_birth", code="invalid_date"
        )
    if code_birth_date is not None and code_birth_date != data.date_of_birth:
        raise ApplicationInvalid(
            "The date of birth differs from the one in the personal code.",
            field="date_of_birth",
            code="birth_date_mismatch",
        )
    if data.document_type not in Application.DocumentType.values:
        raise ApplicationInvalid("Unknown document type.", field="document_type")
    number = data.document_number.strip().upper()
    if _DOCUMENT_NUMBER.fullmatch(number) is None:
        raise ApplicationInvalid(
            "A document number has 5 to 20 letters and digits.",
            field="document_number",
            code="invalid_document_number",
        )
    country = data.document_country.strip().upper()
    if _COUNTRY.fullmatch(country) is None:
        raise ApplicationInvalid(
            "Use the two-letter country code (EE, LV, FI …).",
            field="document_country",
            code="invalid_country",
        )
    if data.document_expiry <= today:
        raise ApplicationInvalid(
            "The document has expired.", field="document_expiry", code="document_expired"
        )
    if data.document_expiry > today + timedelta(days=20 * 366):
        raise ApplicationInvalid(
            "The expiry date is not plausible.", field="document_expiry", code="invalid_date"
        )
    if not data.document_checked:
        raise ApplicationInvalid(
            "Confirm that you checked the document and the person's face against it.",
            field="document_checked",
            code="document_not_checked",
        )
    if data.level not in Account.Level.values:
        raise ApplicationInvalid("Unknown account level.", field="level")
    email = data.email.strip()
    if email:
        try:
            # Quoted local parts ("<script>"@example.org) are valid RFC 5321 but never a
            # customer's real address: refused like HTML in every other field.
            if '"' in email or _UNSAFE_TEXT.search(email):
                raise ValidationError("unsafe")
            validate_email(email)
        except ValidationError:
            raise ApplicationInvalid(
                "Not an e-mail address.", field="email", code="invalid_email"
            ) from None
    phone = "".join(data.phone.split())
    if phone and _PHONE.fullmatch(phone) is None:
        raise ApplicationInvalid(
            "A phone number has 6 to 15 digits, with an optional leading +.",
            field="phone",
            code="invalid_phone",
        )
    cleaned: dict[str, object] = {
        "semantics_identifier": identifier,
        "given_name": _name(data.given_name, "given_name"),
        "surname": _name(data.surname, "surname"),
        "date_of_birth": data.date_of_birth,
        "document_type": data.document_type,
        "document_number": number,
        "document_country": country,
        "document_expiry": data.document_expiry,
        "document_checked": True,
        "level": data.level,
        "email": email,
        "phone": phone,
        "representative_name": "",
        "representative_identifier": "",
        "representative_consent": False,
    }
    if age_on(data.date_of_birth, today) < ADULT_AGE:
        cleaned.update(_representative(data, today, identifier))
    return cleaned


def _representative(data: ApplicationInput, today: date, applicant: str) -> dict[str, object]:
    """A minor needs a legal representative, identified and consenting, in person."""
    name = _name(data.representative_name, "representative_name", limit=200)
    try:
        identifier, born = applicant_identifier(data.representative_identifier)
    except ApplicationInvalid as exc:
        raise ApplicationInvalid(
            exc.message, field="representative_identifier", code=exc.code
        ) from None
    if identifier == applicant:
        raise ApplicationInvalid(
            "The representative is another person than the applicant.",
            field="representative_identifier",
            code="representative_is_applicant",
        )
    if born is not None and age_on(born, today) < ADULT_AGE:
        raise ApplicationInvalid(
            "The legal representative must be an adult.",
            field="representative_identifier",
            code="representative_minor",
        )
    if not data.representative_consent:
        raise ApplicationInvalid(
            "The legal representative's consent is required for an applicant under 18.",
            field="representative_consent",
            code="consent_missing",
        )
    return {
        "representative_name": name,
        "representative_identifier": identifier,
        "representative_consent": True,
    }


def _new_number() -> str:
    raw = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(8))
    return f"RA-{raw[:4]}-{raw[4:]}"


def _record(
    application: Application,
    officer: Officer,
    action: str,
    source_ip: str | None,
    data: dict[str, object] | None = None,
) -> None:
    audit_record(
        actor=officer.actor,
        action=f"application.{action}",
        object_type=OBJECT_TYPE,
        object_id=application.pk,
        source_ip=source_ip,
        data={"number": application.number, "state": application.state, **(data or {})},
    )


def _locked(application: Application, officer: Officer) -> Application:
    """The row, locked, if it belongs to the officer's branch (else: not found)."""
    row = (
        Application.objects.select_for_update()
        .filter(pk=application.pk, branch_id=officer.branch_id)
        .first()
    )
    if row is None:
        raise NotFound("No such application in your branch.")
    return row


def _require(row: Application, *states: str) -> None:
    if row.state not in states:
        raise WrongState(f"Not possible while the application is {row.state}.")


@transaction.atomic
def application_create(
    *, officer: Officer, data: ApplicationInput, source_ip: str | None
) -> Application:
    """A DRAFT application at the officer's branch, from validated applicant data."""
    fields = _validated(data, timezone.localdate())
    for _ in range(10):
        try:
            with transaction.atomic():
                application = Application.objects.create(
                    number=_new_number(),
                    branch_id=officer.branch_id,
                    created_by=officer,
                    **fields,
                )
            break
        except IntegrityError:
            continue  # a number collision (32^8): draw again
    else:  # pragma: no cover
        raise ApplicationError("Could not allocate an application number.")
    _record(
        application,
        officer,
        "created",
        source_ip,
        {"semantics_identifier": application.semantics_identifier, "level": application.level},
    )
    return application


def application_flags(application: Application, today: date) -> list[str]:
    """The four-eyes rules: which reasons send this application to a supervisor."""
    flags = []
    if age_on(application.date_of_birth, today) < ADULT_AGE:
        flags.append("under_18")
    if application.document_expiry <= today + EXPIRY_WARNING:
        flags.append("document_expires_soon")
    if application.registry_result.get("warnings"):
        flags.append("registry_warning")
    creator_surname = application.created_by.user.last_name
    if creator_surname and normalise_name(creator_surname) == normalise_name(application.surname):
        flags.append("same_surname")  # the creator, whoever runs the check
    return flags


@transaction.atomic
def application_registry_check(
    *,
    application: Application,
    officer: Officer,
    source_ip: str | None,
    registry: PopulationRegistry | None = None,
) -> Application:
    """Compare the applicant with the population registry; block, flag or pass.

    A pass finds or creates the Person from the registry's data (never from what was
    typed), so identity data in ``accounts`` always come from an authoritative source.
    """
    row = _locked(application, officer)
    _require(row, Application.State.DRAFT)
    today = timezone.localdate()
    record = (registry or registry_get()).lookup(row.semantics_identifier)
    check = registry_compare(
        record=record,
        given_name=row.given_name,
        surname=row.surname,
        date_of_birth=row.date_of_birth,
    )
    reasons = list(check.reasons)
    if row.document_expiry <= today:
        reasons.append("document_expired")
    row.registry_result = {**check.as_json(), "reasons": reasons}
    if reasons:
        row.registry_result["outcome"] = Outcome.BLOCKED
        row.state = Application.State.BLOCKED
        row.flags = []
    else:
        assert record is not None
        row.person = person_get_or_create(
            semantics_identifier=row.semantics_identifier,
            given_name=record.given_name,
            surname=record.surname,
            date_of_birth=record.date_of_birth,
            email=row.email,
            phone=row.phone,
            actor=officer.actor,
            source_ip=source_ip,
        )
        row.flags = application_flags(row, today)
        row.state = (
            Application.State.AWAITING_APPROVAL if row.flags else Application.State.REGISTRY_CHECKED
        )
    row.save(update_fields=["registry_result", "state", "flags", "person", "updated_at"])
    _record(
        row,
        officer,
        "registry_checked",
        source_ip,
        {"outcome": row.registry_result["outcome"], "reasons": reasons, "flags": row.flags},
    )
    return row


@transaction.atomic
def application_approve(
    *, application: Application, officer: Officer, source_ip: str | None
) -> Application:
    """Four eyes: a supervisor of the branch other than the creating officer approves."""
    row = _locked(application, officer)
    if not officer.is_supervisor:
        raise NotSupervisor("Only a supervisor can approve an application.")
    _require(row, Application.State.AWAITING_APPROVAL)
    if row.created_by_id == officer.pk:
        raise FourEyesViolation("An application cannot be approved by the officer who created it.")
    row.state = Application.State.APPROVED
    row.approved_by = officer
    row.save(update_fields=["state", "approved_by", "updated_at"])
    _record(row, officer, "approved", source_ip, {"flags": row.flags})
    return row


# The ticket code printed on the paper, sealed so the same code can be shown at release.


def _sealing_key() -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"smartid ra ticket code v1"
    ).derive(settings.SECRET_KEY.encode())


def _aad(application: Application) -> bytes:
    return f"{application.number}:{application.ticket_id}".encode()


def _seal(application: Application, code: str) -> bytes:
    nonce = os.urandom(12)
    return b"\x01" + nonce + AESGCM(_sealing_key()).encrypt(nonce, code.encode(), _aad(application))


def application_ticket_code(
    application: Application,
    *,
    viewer: Officer | None = None,
    shown_on: str = "",
    source_ip: str | None = None,
) -> str:
    """The ticket code of a printed application (for its paper and the release screen).

    With a ``viewer`` the showing is recorded: who saw a registration code, when, where.
    """
    if viewer is not None:
        audit_record(
            actor=viewer.actor,
            action="application.ticket_code_shown",
            object_type="enrolment.Application",
            object_id=application.pk,
            data={"shown_on": shown_on},
            source_ip=source_ip,
        )
    blob = bytes(application.ticket_code_sealed or b"")
    if len(blob) < 30 or blob[0] != 1:
        raise TicketUnavailable("This application has no ticket code to show.")
    try:
        return AESGCM(_sealing_key()).decrypt(blob[1:13], blob[13:], _aad(application)).decode()
    except InvalidTag:
        # SECRET_KEY changed since printing: the paper cannot be matched any more.
        raise TicketUnavailable(
            "The ticket code cannot be read any more; cancel and start again."
        ) from None


@transaction.atomic
def application_print(
    *, application: Application, officer: Officer, source_ip: str | None
) -> tuple[Application, str]:
    """Create the held ticket whose code the paper carries; returns the code.

    The ticket exists from now on but cannot be redeemed (``on_hold``) until the signed
    paper is back (:func:`application_release_ticket`).
    """
    row = _locked(application, officer)
    _require(row, Application.State.REGISTRY_CHECKED, Application.State.APPROVED)
    if row.flags and row.approved_by_id is None:  # pragma: no cover -- states prevent it
        raise FourEyesViolation("This application needs a supervisor's approval.")
    assert row.person is not None
    ticket, code = ticket_create(
        person=row.person,
        identity_source=RegistrationTicket.Source.RA_OFFICER,
        level=row.level,
        created_by=officer.actor,
        ttl=timedelta(hours=settings.RA_TICKET_TTL_HOURS),
        on_hold=True,
        source_ip=source_ip,
    )
    row.ticket = ticket
    row.ticket_code_sealed = _seal(row, code)
    row.state = Application.State.PAPER_PRINTED
    row.save(update_fields=["ticket", "ticket_code_sealed", "state", "updated_at"])
    _record(row, officer, "printed", source_ip, {"ticket": ticket.pk})
    return row, code


def scan_type(content: bytes) -> str:
    """The media type of an uploaded scan, by its first bytes (PDF, PNG, JPEG); else ""."""
    for magic, media_type in SCAN_TYPES.items():
        if content.startswith(magic):
            return media_type
    return ""


@transaction.atomic
def application_confirm_signature(
    *,
    application: Application,
    officer: Officer,
    source_ip: str | None,
    scan: bytes | None = None,
) -> Application:
    """The officer has the paper back, signed by the customer (optionally: its scan)."""
    row = _locked(application, officer)
    _require(row, Application.State.PAPER_PRINTED)
    media_type = ""
    if scan:
        if len(scan) > settings.RA_MAX_SCAN_BYTES:
            raise ApplicationInvalid("The scan is too large.", field="scan", code="scan_too_large")
        media_type = scan_type(scan)
        if not media_type:
            raise ApplicationInvalid(
                "The scan must be a PDF, PNG or JPEG file.", field="scan", code="scan_type"
            )
        row.signed_scan = scan
        row.signed_scan_type = media_type
    row.state = Application.State.SIGNED
    row.save(update_fields=["state", "signed_scan", "signed_scan_type", "updated_at"])
    _record(row, officer, "signature_confirmed", source_ip, {"scan": media_type})
    return row


@transaction.atomic
def application_release_ticket(
    *, application: Application, officer: Officer, source_ip: str | None
) -> tuple[Application, str]:
    """Make the printed ticket redeemable; returns its code to show on screen."""
    row = _locked(application, officer)
    _require(row, Application.State.SIGNED)
    assert row.ticket_id is not None  # printed applications have one
    ticket = RegistrationTicket.objects.select_for_update().get(pk=row.ticket_id)
    if ticket.used_at is not None or ticket.expires_at <= timezone.now():
        raise TicketUnavailable("The ticket has expired; cancel and start again.")
    code = application_ticket_code(row)
    ticket.on_hold = False
    ticket.save(update_fields=["on_hold"])
    row.state = Application.State.TICKET_RELEASED
    row.save(update_fields=["state", "updated_at"])
    _record(row, officer, "ticket_released", source_ip, {"ticket": ticket.pk})
    return row, code


def clean_reason(reason: str) -> str:
    reason = " ".join(reason.split()) if isinstance(reason, str) else ""
    if not 3 <= len(reason) <= REASON_MAX or _UNSAFE_TEXT.search(reason):
        raise ApplicationInvalid(
            "Give a reason of 3 to 500 characters, without < or >.",
            field="reason",
            code="invalid_reason",
        )
    return reason


@transaction.atomic
def application_cancel(
    *, application: Application, officer: Officer, reason: str, source_ip: str | None
) -> Application:
    """Cancel with a reason; an unused ticket dies with the application."""
    reason = clean_reason(reason)
    row = _locked(application, officer)
    if row.state == Application.State.CANCELLED:
        raise WrongState("The application is cancelled already.")
    revoked = None
    if row.ticket_id is not None:
        ticket = RegistrationTicket.objects.select_for_update().get(pk=row.ticket_id)
        if ticket.used_at is not None:
            raise WrongState("The ticket has been used: the account exists; revoke it instead.")
        ticket.on_hold = True
        ticket.expires_at = min(ticket.expires_at, timezone.now())
        ticket.save(update_fields=["on_hold", "expires_at"])
        revoked = ticket.pk
    previous = row.state
    row.state = Application.State.CANCELLED
    row.cancel_reason = reason
    row.ticket_code_sealed = None
    row.save(update_fields=["state", "cancel_reason", "ticket_code_sealed", "updated_at"])
    _record(
        row,
        officer,
        "cancelled",
        source_ip,
        {"from": previous, "reason": reason, "ticket": revoked},
    )
    return row
