"""The RA office in Debian's Chromium: an officer enrols a customer end to end, the
reference app registers with the released ticket; a supervisor approves a flagged
application. Screenshots of the main screens go to <DATA_DIR>/screenshots/ra-*.png."""

from __future__ import annotations

import re
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from django.utils import timezone

from accounts.models import Account
from enrolment import applications as svc
from enrolment.models import Application
from tests.factories import Office, application_input
from tests.helpers.platform import Platform
from tests.helpers.ra_office import totp_now
from tests.live import screenshot
from tests.personas import ALICE, PASSWORD, PIN1, PIN2

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.django_db(transaction=True)


def _login(page: Page, officer: Any, name: str) -> None:
    """With the keyboard only: type, Tab, type, Enter; then the code and Enter."""
    page.set_default_timeout(60_000)  # a loaded CI machine (PDF rendering, key generation)
    from playwright.sync_api import expect

    page.goto("/ra/login/")
    expect(page.locator("#id_username")).to_be_focused()  # autofocus, before typing
    page.keyboard.type(officer.username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    screenshot(page, f"ra-{name}-login")
    page.keyboard.press("Enter")
    page.wait_for_url("**/ra/login/totp/")
    assert page.locator("#totp-secret").is_visible()  # first login: enrolment
    screenshot(page, f"ra-{name}-totp-enrolment")
    expect(page.locator("#id_token")).to_be_focused()
    page.keyboard.type(totp_now(officer))
    page.keyboard.press("Enter")
    page.wait_for_url("**/ra/")


def test_officer_enrols_a_customer_who_registers_with_the_ticket(
    page: Page, office: Office, platform: Platform, tmp_path: Path
) -> None:
    _login(page, office.olga, "officer")
    page.get_by_role("link", name="New application").first.click()
    page.get_by_label("Personal code (semantics identifier)").nth(1).fill(
        ALICE.semantics_identifier
    )
    page.get_by_label("Given name").fill(ALICE.given_name)
    page.get_by_label("Surname").fill(ALICE.surname)
    page.get_by_label("Date of birth").fill("1990-02-12")
    page.get_by_label("Document type").select_option("ID_CARD")
    page.get_by_label("Document number").fill("AB1234567")
    page.get_by_label("Issuing country").fill("EE")
    page.get_by_label("Valid until").fill((timezone.localdate() + timedelta(days=900)).isoformat())
    page.get_by_label("I have checked the document").check()
    page.get_by_label("E-mail").fill(ALICE.email)
    screenshot(page, "ra-application-form")
    page.get_by_role("button", name="Create application").click()
    assert page.locator("#application-state").inner_text() == "Draft"

    page.locator("#registry-check").click()
    assert page.locator("#application-state").inner_text() == "Registry checked"
    page.locator("#print").click()
    assert page.locator("#application-state").inner_text() == "Paper printed"
    screenshot(page, "ra-application")
    with page.expect_download() as download:
        page.locator("#download-pdf").click()
    pdf = tmp_path / "application.pdf"
    download.value.save_as(pdf)
    text = " ".join(
        subprocess.run(
            ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], check=True, capture_output=True
        )
        .stdout.decode()
        .split()
    )
    application = Application.objects.get()
    for expected in (
        application.number,
        "PNOEE-49002124277",
        "Tamm",
        "Alice",
        "AB1234567",
        "olga",
        "Branch A, Mustamäe",  # a name beyond ASCII, as the applicant's may be
        "Terms and conditions",
    ):
        assert expected in text, expected
    printed_code = re.search(r"\b([A-Z2-7]{4}(?:-[A-Z2-7]{2,4}){6})\b", text)
    assert printed_code is not None, text

    page.get_by_label("I have received the application signed by the customer.").check()
    page.locator("#confirm-signature").click()
    assert page.locator("#application-state").inner_text() == "Signed paper received"
    page.locator("#release").click()
    page.wait_for_url("**/ticket/")
    code = page.locator("#ticket-code").inner_text()
    screenshot(page, "ra-ticket")
    assert code == printed_code.group(1)  # the screen shows the code on the signed paper

    result = platform.device().register(code, PIN1, PIN2)
    assert result.state == "ACTIVE"
    account = Account.objects.get(document_number=result.document_number)
    assert account.state == Account.State.ACTIVE
    assert account.person.semantics_identifier == ALICE.semantics_identifier
    assert account.ticket.identity_source == "RA_OFFICER"

    page.goto(f"/ra/applications/{application.pk}/ticket/")
    assert result.document_number in page.content()


def test_supervisor_approves_a_flagged_application(page: Page, office: Office) -> None:
    flagged = svc.application_registry_check(
        application=svc.application_create(
            officer=office.olga,
            data=application_input(document_expiry=timezone.localdate() + timedelta(days=10)),
            source_ip="127.0.0.1",
        ),
        officer=office.olga,
        source_ip="127.0.0.1",
    )
    _login(page, office.sven, "supervisor")
    page.get_by_role("link", name="Approvals").click()
    screenshot(page, "ra-approvals")
    page.get_by_role("link", name=flagged.number).click()
    assert "The document expires within 30 days" in page.content()
    page.locator("#approve").click()
    assert page.locator("#application-state").inner_text() == "Approved"
    screenshot(page, "ra-approved")
    assert Application.objects.get(pk=flagged.pk).approved_by == office.sven
