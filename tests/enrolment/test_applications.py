"""RA office application services: validation, registry check, four eyes, the held
ticket, release, cancel, branch isolation and the audit trail."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
import time_machine
from django.utils import timezone

from accounts.models import Person
from audit.models import AuditRecord
from enrolment import applications as svc
from enrolment.models import Application, RegistrationTicket
from enrolment.services import TicketError, TicketOnHold, ticket_redeem
from tests.factories import Office, application_input
from tests.personas import ALICE

IP = "127.0.0.1"
KEY = b"MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE" + b"A" * 88


def _redeem(code: str) -> None:
    ticket_redeem(code=code, platform="p", device_name="n", public_key=KEY, interactions=[])


def _create(office: Office, **overrides: object) -> Application:
    return svc.application_create(
        officer=office.olga, data=application_input(**overrides), source_ip=IP
    )


def _checked(office: Office, **overrides: object) -> Application:
    return svc.application_registry_check(
        application=_create(office, **overrides), officer=office.olga, source_ip=IP
    )


def test_the_happy_path_holds_the_ticket_until_the_signed_paper_is_back(office: Office) -> None:
    application = _checked(office)
    assert application.state == Application.State.REGISTRY_CHECKED and application.flags == []
    person = Person.objects.get(semantics_identifier=ALICE.semantics_identifier)
    assert application.person == person and person.surname == ALICE.surname == "Tamm"

    application, code = svc.application_print(
        application=application, officer=office.olga, source_ip=IP
    )
    assert application.state == Application.State.PAPER_PRINTED
    ticket = RegistrationTicket.objects.get(application=application)
    assert ticket.on_hold and ticket.identity_source == "RA_OFFICER"
    # Every record of the step names where it came from, including the ones the shared
    # services write (person and ticket created).
    for action in ("person.created", "ticket.created"):
        assert AuditRecord.objects.get(action=action).source_ip == IP
    assert ticket.created_by == "officer:olga"
    assert code.encode() not in bytes(application.ticket_code_sealed or b"")
    assert svc.application_ticket_code(application) == code
    with pytest.raises(TicketOnHold):
        _redeem(code)

    application = svc.application_confirm_signature(
        application=application, officer=office.olga, source_ip=IP
    )
    with pytest.raises(TicketOnHold):  # signed, but not released yet
        _redeem(code)
    application, shown = svc.application_release_ticket(
        application=application, officer=office.olga, source_ip=IP
    )
    assert shown == code and application.state == Application.State.TICKET_RELEASED
    _redeem(code)
    assert RegistrationTicket.objects.get(pk=ticket.pk).used_at is not None

    actions = list(
        AuditRecord.objects.filter(object_type="enrolment.Application").values_list(
            "action", "actor", "source_ip"
        )
    )
    assert actions == [
        ("application.created", "officer:olga", IP),
        ("application.registry_checked", "officer:olga", IP),
        ("application.printed", "officer:olga", IP),
        ("application.signature_confirmed", "officer:olga", IP),
        ("application.ticket_released", "officer:olga", IP),
    ]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"semantics_identifier": "PNOEE-49002124278"}, "semantics_identifier"),  # check digit
        ({"semantics_identifier": "PNOEE-49002124277<script>"}, "semantics_identifier"),
        ({"date_of_birth": date(1990, 2, 13)}, "date_of_birth"),  # not the code's
        ({"given_name": "<script>alert(1)</script>"}, "given_name"),
        ({"surname": "Tamm2"}, "surname"),
        ({"surname": "x" * 101}, "surname"),
        ({"document_number": "AB 12<"}, "document_number"),
        ({"document_country": "Estonia"}, "document_country"),
        ({"document_expiry": timezone.localdate()}, "document_expiry"),
        ({"document_checked": False}, "document_checked"),
        ({"email": "not-an-address"}, "email"),
        ({"phone": "call me"}, "phone"),
        ({"level": "SUPER"}, "level"),
        ({"document_type": "LIBRARY_CARD"}, "document_type"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_saved(
    office: Office, overrides: dict[str, object], field: str
) -> None:
    before = AuditRecord.objects.count()
    with pytest.raises(svc.ApplicationInvalid) as caught:
        _create(office, **overrides)
    assert caught.value.field == field
    assert Application.objects.count() == 0 and AuditRecord.objects.count() == before


MIA = {
    "semantics_identifier": "PNOEE-51107121760",
    "given_name": "Mia",
    "surname": "Kask",
    "date_of_birth": date(2011, 7, 12),
}


@time_machine.travel(date(2026, 6, 1))
def test_a_minor_needs_an_adult_representative_and_consent(office: Office) -> None:
    with pytest.raises(svc.ApplicationInvalid) as caught:
        _create(office, **MIA)
    assert caught.value.field == "representative_name"
    rep = {"representative_name": "Jüri Tamm", "representative_identifier": "PNOEE-37605030299"}
    with pytest.raises(svc.ApplicationInvalid) as caught:
        _create(office, **MIA, **rep)
    assert caught.value.code == "consent_missing"
    with pytest.raises(svc.ApplicationInvalid) as caught:
        _create(
            office,
            **MIA,
            representative_name="Mia Kask",
            representative_identifier="PNOEE-51107121760",
            representative_consent=True,
        )
    assert caught.value.code == "representative_is_applicant"
    application = _create(office, **MIA, **rep, representative_consent=True)
    assert application.representative_identifier == "PNOEE-37605030299"
    checked = svc.application_registry_check(
        application=application, officer=office.olga, source_ip=IP
    )
    assert checked.state == Application.State.AWAITING_APPROVAL and checked.flags == ["under_18"]


@pytest.mark.parametrize(
    ("overrides", "reasons"),
    [
        ({"semantics_identifier": "PNOEE-38001085729"}, ["unknown_person"]),
        (
            {
                "semantics_identifier": "PNOEE-36001010005",
                "given_name": "Toomas",
                "surname": "Vana",
                "date_of_birth": date(1960, 1, 1),
            },
            ["deceased"],
        ),
        ({"surname": "Mannik"}, ["surname_mismatch"]),
    ],
)
def test_registry_problems_block(
    office: Office, overrides: dict[str, object], reasons: list[str]
) -> None:
    if overrides.get("semantics_identifier") == "PNOEE-38001085729":
        overrides["date_of_birth"] = date(1980, 1, 8)
    application = _checked(office, **overrides)
    assert application.state == Application.State.BLOCKED
    assert application.registry_result["reasons"] == reasons and application.person is None
    assert not Person.objects.exists()  # nothing is created from unconfirmed data
    with pytest.raises(svc.WrongState):
        svc.application_print(application=application, officer=office.olga, source_ip=IP)


def test_flags_send_the_application_to_a_supervisor(office: Office) -> None:
    soon = _checked(office, document_expiry=timezone.localdate() + timedelta(days=10))
    assert soon.flags == ["document_expires_soon"]
    warned = _checked(
        office,
        semantics_identifier="PNOEE-48803280224",
        given_name="Kati",
        surname="Karu",
        date_of_birth=date(1988, 3, 28),
    )
    assert warned.flags == ["registry_warning"] and warned.registry_result["warnings"]
    # Sven (surname Saar) enrols Tiina Saar: a relative, maybe.
    same = svc.application_registry_check(
        application=svc.application_create(
            officer=office.sven,
            data=application_input(
                semantics_identifier="PNOEE-47101010033",
                given_name="Tiina",
                surname="SAAR",
                date_of_birth=date(1971, 1, 1),
            ),
            source_ip=IP,
        ),
        officer=office.sven,
        source_ip=IP,
    )
    assert same.flags == ["same_surname"] and same.state == Application.State.AWAITING_APPROVAL


def test_four_eyes(office: Office) -> None:
    application = _checked(office, document_expiry=timezone.localdate() + timedelta(days=10))
    with pytest.raises(svc.WrongState):  # not before approval
        svc.application_print(application=application, officer=office.olga, source_ip=IP)
    with pytest.raises(svc.NotSupervisor):
        svc.application_approve(application=application, officer=office.olga, source_ip=IP)
    with pytest.raises(svc.NotFound):  # another branch's application does not exist for him
        svc.application_approve(application=application, officer=office.bob, source_ip=IP)
    # A supervisor cannot approve what they created themselves.
    own = svc.application_registry_check(
        application=svc.application_create(
            officer=office.sven,
            data=application_input(document_expiry=timezone.localdate() + timedelta(days=10)),
            source_ip=IP,
        ),
        officer=office.sven,
        source_ip=IP,
    )
    with pytest.raises(svc.FourEyesViolation):
        svc.application_approve(application=own, officer=office.sven, source_ip=IP)
    assert Application.objects.get(pk=own.pk).state == Application.State.AWAITING_APPROVAL

    approved = svc.application_approve(application=application, officer=office.sven, source_ip=IP)
    assert approved.state == Application.State.APPROVED and approved.approved_by == office.sven
    printed, _ = svc.application_print(application=approved, officer=office.olga, source_ip=IP)
    assert printed.state == Application.State.PAPER_PRINTED


def test_steps_out_of_order_are_refused(office: Office) -> None:
    application = _create(office)
    for step in (
        svc.application_print,
        svc.application_confirm_signature,
        svc.application_release_ticket,
        svc.application_approve,
    ):
        officer = office.sven if step is svc.application_approve else office.olga
        with pytest.raises(svc.WrongState):
            step(application=application, officer=officer, source_ip=IP)
    svc.application_registry_check(application=application, officer=office.olga, source_ip=IP)
    with pytest.raises(svc.WrongState):  # only once
        svc.application_registry_check(application=application, officer=office.olga, source_ip=IP)


def test_another_branch_cannot_touch_an_application(office: Office) -> None:
    application = _create(office)
    with pytest.raises(svc.NotFound):
        svc.application_registry_check(application=application, officer=office.bob, source_ip=IP)
    with pytest.raises(svc.NotFound):
        svc.application_cancel(
            application=application, officer=office.bob, reason="mine now", source_ip=IP
        )
    assert Application.objects.get(pk=application.pk).state == Application.State.DRAFT


def test_cancel_kills_a_printed_ticket(office: Office) -> None:
    application, code = svc.application_print(
        application=_checked(office), officer=office.olga, source_ip=IP
    )
    with pytest.raises(svc.ApplicationInvalid):
        svc.application_cancel(
            application=application, officer=office.olga, reason="<b>", source_ip=IP
        )
    cancelled = svc.application_cancel(
        application=application,
        officer=office.olga,
        reason="Customer changed their mind",
        source_ip=IP,
    )
    assert cancelled.state == Application.State.CANCELLED and cancelled.ticket_code_sealed is None
    with pytest.raises(TicketError):
        _redeem(code)
    with pytest.raises(svc.WrongState):
        svc.application_cancel(
            application=cancelled, officer=office.olga, reason="again", source_ip=IP
        )
    record = AuditRecord.objects.get(action="application.cancelled")
    assert record.data["reason"] == "Customer changed their mind"
    assert record.data["from"] == "PAPER_PRINTED"


def test_a_used_ticket_cannot_be_cancelled(office: Office) -> None:
    application, code = svc.application_print(
        application=_checked(office), officer=office.olga, source_ip=IP
    )
    svc.application_confirm_signature(application=application, officer=office.olga, source_ip=IP)
    svc.application_release_ticket(application=application, officer=office.olga, source_ip=IP)
    _redeem(code)
    with pytest.raises(svc.WrongState):
        svc.application_cancel(
            application=application, officer=office.olga, reason="too late", source_ip=IP
        )


def test_an_expired_ticket_is_not_released(office: Office) -> None:
    application, _ = svc.application_print(
        application=_checked(office), officer=office.olga, source_ip=IP
    )
    svc.application_confirm_signature(application=application, officer=office.olga, source_ip=IP)
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        with pytest.raises(svc.TicketUnavailable):
            svc.application_release_ticket(
                application=application, officer=office.olga, source_ip=IP
            )
    assert Application.objects.get(pk=application.pk).state == Application.State.SIGNED


def test_the_sealed_code_is_bound_to_the_secret_key(office: Office, settings: object) -> None:
    application, code = svc.application_print(
        application=_checked(office), officer=office.olga, source_ip=IP
    )
    assert svc.application_ticket_code(application) == code
    settings.SECRET_KEY = "another key " * 5  # type: ignore[attr-defined]
    with pytest.raises(svc.TicketUnavailable):
        svc.application_ticket_code(application)


@pytest.mark.parametrize(
    ("content", "error"),
    [(b"GIF89a....", "scan_type"), (b"%PDF-" + b"x" * 2048, "scan_too_large")],
)
def test_scans_are_checked(office: Office, settings: object, content: bytes, error: str) -> None:
    settings.RA_MAX_SCAN_BYTES = 1024  # type: ignore[attr-defined]
    application, _ = svc.application_print(
        application=_checked(office), officer=office.olga, source_ip=IP
    )
    with pytest.raises(svc.ApplicationInvalid) as caught:
        svc.application_confirm_signature(
            application=application, officer=office.olga, source_ip=IP, scan=content
        )
    assert caught.value.code == error
    assert Application.objects.get(pk=application.pk).state == Application.State.PAPER_PRINTED
    ok = svc.application_confirm_signature(
        application=application, officer=office.olga, source_ip=IP, scan=b"\x89PNG\r\n\x1a\n..."
    )
    assert ok.signed_scan_type == "image/png"


def test_login_failures_are_audited_for_officers_and_unknown_names(office: Office) -> None:
    """The count lives in ra_office.throttle (per user name + address); the service
    records each failure, naming the officer, or nobody for a name that is no officer's."""
    svc.officer_login_failed(officer=office.olga, step="password", locked=False, source_ip=IP)
    svc.officer_login_failed(officer=office.olga, step="totp", locked=True, source_ip=IP)
    svc.officer_login_failed(officer=None, step="password", locked=True, source_ip=IP)
    rows = AuditRecord.objects.filter(action__in=("officer.login_failed", "officer.locked"))
    assert [(r.actor, r.action, r.object_id, r.source_ip, r.data) for r in rows.order_by("id")] == [
        ("officer:olga", "officer.login_failed", str(office.olga.pk), IP, {"step": "password"}),
        ("officer:olga", "officer.locked", str(office.olga.pk), IP, {"step": "totp"}),
        (svc.UNKNOWN_USER_ACTOR, "officer.locked", "", IP, {"step": "password"}),
    ]
    assert svc.officer_by_username("olga") == office.olga
    assert svc.officer_by_username("nobody") is None
