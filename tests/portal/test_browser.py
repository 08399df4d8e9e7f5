"""The portal in Debian's Chromium: ID-card login with the virtual card (through the
extension shim), a new account registered by the reference app, suspend → the RP API
and OCSP refuse it, resume, delete. Screenshots of every main page.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from accounts.models import Account
from api.rp.models import RelyingParty
from pki.models import Certificate
from pki.services import ca_certificate
from tests.helpers.platform import Platform
from tests.live import screenshot
from tests.personas import ALICE, PIN1, PIN2, RP_A

pytestmark = pytest.mark.django_db(transaction=True)
AUTH = {
    "relyingPartyUUID": RP_A.uuid,
    "relyingPartyName": RP_A.name,
    "hash": base64.b64encode(hashlib.sha256(b"portal test").digest()).decode(),
    "hashType": "SHA256",
    "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
}


def rp_authentication(platform: Platform, nonce: str) -> int:
    body = {**AUTH, "nonce": nonce}
    response = httpx.post(
        f"{platform.url}/v2/authentication/etsi/{ALICE.semantics_identifier}", json=body, timeout=30
    )
    return response.status_code


def ocsp_answer(platform: Platform, row: Certificate) -> ocsp.OCSPResponse:
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(
            x509.load_der_x509_certificate(bytes(row.der)),
            ca_certificate(row.issuer),
            hashes.SHA256(),
        )
        .add_extension(x509.OCSPNonce(b"browser-test-nonce"), critical=False)
        .build()
        .public_bytes(Encoding.DER)
    )
    response = httpx.post(
        f"{platform.url}/ocsp",
        content=request,
        headers={"Content-Type": "application/ocsp-request"},
        timeout=30,
    )
    return ocsp.load_der_ocsp_response(response.content)


def confirm(page: Any, button_id: str, shot: str | None = None) -> None:
    page.click(f"#{button_id}")
    page.wait_for_selector("#confirm")
    if shot:
        screenshot(page, shot)
    page.click("#confirm")
    page.wait_for_selector(".message.success")


def test_portal_in_the_browser(page: Any, platform: Platform, rp_a: RelyingParty) -> None:
    errors: list[str] = []
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )

    page.goto("/portal/login")
    screenshot(page, "portal-login")
    page.select_option("#virtual-card-select", ALICE.personal_code)  # a demo card
    page.click("#webeid-login-button")
    page.wait_for_url("**/portal/accounts")
    assert "Welcome, Alice" in page.inner_text("h1")
    screenshot(page, "portal-accounts-empty")

    # A new account: the ticket is shown as a code and a QR code; the app redeems it.
    page.click("text=New account")
    page.click("#create-ticket")
    code = page.inner_text("#ticket-code").strip()
    assert page.locator(".qr img").count() == 1
    screenshot(page, "portal-register-ticket")
    app = platform.device()
    result = app.register(code, PIN1, PIN2)
    account = Account.objects.get(document_number=result.document_number)
    assert account.person.semantics_identifier == ALICE.semantics_identifier
    assert account.state == Account.State.ACTIVE

    page.goto("/portal/accounts")
    row = page.locator(f"tr[data-document-number='{account.document_number}']")
    assert row.count() == 1
    assert "good" in row.inner_text()
    screenshot(page, "portal-accounts")
    assert rp_authentication(platform, "before") == 200

    # Suspend: the RP API refuses the person, OCSP says revoked (certificateHold).
    page.click(f"text={account.document_number}")
    screenshot(page, "portal-account-detail")
    confirm(page, "suspend", "portal-confirm-suspend")
    account.refresh_from_db()
    assert account.state == Account.State.SUSPENDED
    assert "on hold" in page.inner_text("table")
    assert rp_authentication(platform, "suspended") == 472
    auth_cert = Certificate.objects.get(document_number=account.document_number, purpose="AUTH")
    held = ocsp_answer(platform, auth_cert)
    assert held.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert held.revocation_reason == x509.ReasonFlags.certificate_hold

    # Resume: usable again.
    confirm(page, "resume")
    account.refresh_from_db()
    assert account.state == Account.State.ACTIVE
    assert ocsp_answer(platform, auth_cert).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert rp_authentication(platform, "resumed") == 200

    # History shows the RP's transactions.
    page.reload()
    assert RP_A.name in page.inner_text("body") or RP_A.display_name in page.inner_text("body")
    # Delete: certificates revoked for good, server shares destroyed.
    confirm(page, "delete", "portal-confirm-delete")
    account.refresh_from_db()
    assert account.state == Account.State.REVOKED
    revoked = ocsp_answer(platform, auth_cert)
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason == x509.ReasonFlags.cessation_of_operation
    assert all(k.state == "DESTROYED" and k.wrapped_server_half is None for k in account.keys.all())
    screenshot(page, "portal-account-deleted")

    # Contact data and the Estonian pages.
    page.click("text=Contact data")
    screenshot(page, "portal-contact")
    page.select_option("#language-select", "et")
    page.click("form.language button")
    page.wait_for_selector("html[lang=et]")
    screenshot(page, "portal-contact-et")
    page.click("form.inline button")  # log out
    page.wait_for_url("**/portal/login")
    screenshot(page, "portal-login-et")
    page.goto("/portal/accounts")
    page.wait_for_url("**/portal/login?next=/portal/accounts")
    assert not errors, errors
