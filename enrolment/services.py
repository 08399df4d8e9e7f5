"""Registration tickets: created by a verified identity source, redeemed once by a device."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import Account, Device, Person
from audit.services import audit_record
from core.errors import DomainError
from enrolment.models import RegistrationTicket
from enrolment.tickets import normalise_typed_code

TICKET_TTL = timedelta(hours=24)


class TicketError(DomainError):
    code = "ticket_invalid"


class TicketUsed(TicketError):
    code = "ticket_used"


class TicketExpired(TicketError):
    code = "ticket_expired"


class TicketOnHold(TicketError):
    """An RA office ticket whose signed application paper has not been received yet."""

    code = "ticket_not_released"


def _code_hash(code: str) -> bytes:
    normalised = normalise_typed_code(code)
    return hashlib.sha256(b"smartid-ticket-v1\x00" + normalised.encode()).digest()


def _new_code() -> str:
    """128 random bits in Base32 (26 characters), shown in groups of four."""
    raw = base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def ticket_qr_payload(code: str) -> str:
    """What the QR code carries: the service address and the code."""
    return f"smartid://register?server={settings.SITE_URL}&ticket={code}"


@transaction.atomic
def ticket_create(
    *,
    person: Person,
    identity_source: str,
    level: str,
    created_by: str,
    ttl: timedelta = TICKET_TTL,
    document_suffix: str = "",
    on_hold: bool = False,
    source_ip: str | None = None,
) -> tuple[RegistrationTicket, str]:
    """Create a ticket; returns it with the code, which is shown once and never stored.

    ``on_hold``: the ticket cannot be redeemed until released (the RA office prints the
    code on the application paper before the customer has signed it).
    """
    if identity_source not in RegistrationTicket.Source.values:
        raise TicketError("Unknown identity source.")
    if level not in Account.Level.values:
        raise TicketError("Unknown account level.")
    code = _new_code()
    ticket = RegistrationTicket.objects.create(
        code_hash=_code_hash(code),
        person=person,
        identity_source=identity_source,
        level=level,
        created_by=created_by,
        expires_at=timezone.now() + ttl,
        document_suffix=document_suffix,
        on_hold=on_hold,
    )
    audit_record(
        actor=created_by,
        action="ticket.created",
        object_type="enrolment.RegistrationTicket",
        object_id=ticket.pk,
        source_ip=source_ip,
        data={"person": person.semantics_identifier, "source": identity_source, "level": level},
    )
    return ticket, code


@transaction.atomic
def ticket_redeem(
    *, code: str, platform: str, device_name: str, public_key: bytes, interactions: list[str]
) -> tuple[Account, Device]:
    """Use a ticket up: register the device and a PENDING account for its person."""
    if not isinstance(code, str) or not 8 <= len(code) <= 64:
        raise TicketError("Unknown registration ticket.")
    ticket = (
        RegistrationTicket.objects.select_for_update()
        .select_related("person")
        .filter(code_hash=_code_hash(code))
        .first()
    )
    if ticket is None:
        raise TicketError("Unknown registration ticket.")
    if ticket.used_at is not None:
        raise TicketUsed("This registration ticket has been used.")
    if ticket.expires_at <= timezone.now():
        raise TicketExpired("This registration ticket has expired.")
    if ticket.on_hold:
        raise TicketOnHold("This registration ticket has not been released yet.")
    device = account_services.device_register(
        person=ticket.person,
        platform=platform,
        name=device_name,
        public_key=public_key,
        interactions=interactions,
    )
    actor = f"device:{device.pk}"
    account = account_services.account_create(
        person=ticket.person,
        device=device,
        level=ticket.level,
        actor=actor,
        suffix=ticket.document_suffix or None,
    )
    ticket.used_at = timezone.now()
    ticket.account = account
    ticket.save(update_fields=["used_at", "account"])
    audit_record(
        actor=actor,
        action="ticket.redeemed",
        object_type="enrolment.RegistrationTicket",
        object_id=ticket.pk,
        data={"account": account.document_number},
    )
    return account, device
