"""Account expiry (issue 15 item 2): past its certificates' validity an account is refused
by RP API v1/v2/v3 as an unusable one and shown as expired in the portal and the app;
notices before expiry; abandoned registrations closed by the beat task."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.models import Account
from api.rp.models import RelyingParty
from device.errors import ApiError
from signing.models import ExpiryNotice, SplitKey
from signing.services.expiry import expiry_notices_send, registrations_expire_abandoned
from signing.tasks import account_expiry_housekeeping
from tests import factories
from tests.helpers import rp_v3
from tests.helpers.platform import Platform
from tests.helpers.webeid import token_login
from tests.personas import ALICE, PIN2, RP_A

ALICE_ID = ALICE.semantics_identifier
HASH = base64.b64encode(hashlib.sha256(b"login").digest()).decode()
V2_AUTH = {
    "relyingPartyUUID": RP_A.uuid,
    "relyingPartyName": RP_A.name,
    "hash": HASH,
    "hashType": "SHA256",
    "allowedInteractionsOrder": [{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
}
V1_AUTH = {
    "relyingPartyUUID": RP_A.uuid,
    "relyingPartyName": RP_A.name,
    "hash": HASH,
    "hashType": "SHA256",
    "displayText": "Log in?",
    "certificateLevel": "QUALIFIED",
}


def _post(platform: Platform, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(f"{platform.url}/{path}", json=body, timeout=30)


def test_an_expired_account_is_refused_everywhere(
    platform: Platform, rp_a: RelyingParty, settings: Any
) -> None:
    settings.CERTIFICATE_VALIDITY_DAYS = 1
    app, account = platform.registered()
    number = account.document_number
    assert _post(platform, f"v2/authentication/etsi/{ALICE_ID}", V2_AUTH).status_code == 200
    (before,) = app.accounts()
    assert before.renewal_due and not before.expired  # 1 day left, inside the 30-day notice

    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        # v1 and v2: 472 (the person should look at the app or the portal), by person and
        # by document; v3: 404 PERSON_SHOULD_VIEW_SMART_ID_PORTAL.
        starts: list[tuple[str, dict[str, Any]]] = [
            (f"v2/authentication/etsi/{ALICE_ID}", V2_AUTH),
            (f"v2/authentication/document/{number}", V2_AUTH),
            (f"v2/signature/etsi/{ALICE_ID}", V2_AUTH | {"certificateLevel": "QUALIFIED"}),
            (f"v1/authentication/etsi/{ALICE_ID}", V1_AUTH),
        ]
        for path, body in starts:
            response = _post(platform, path, body)
            assert response.status_code == 472, (path, response.text)
        v3 = _post(
            platform,
            f"v3/authentication/notification/etsi/{ALICE_ID}",
            rp_v3.auth_body(notification=True),
        )
        assert v3.status_code == 404, v3.text
        assert v3.json()["errors"][0]["code"] == "PERSON_SHOULD_VIEW_SMART_ID_PORTAL"
        # The app's status says so, and a re-key is refused: the account must be registered
        # again.
        (status,) = app.accounts()
        assert status.expired and not status.renewal_due and status.state == "ACTIVE"
        with pytest.raises(ApiError) as refused:
            app.renew(number, PIN2, "4321", "54321")
        assert (refused.value.status, refused.value.error) == (409, "account_expired")
        # The portal shows the account as expired.
        client = Client()
        assert token_login(client, ALICE).status_code == 200
        page = client.get("/portal/accounts").content.decode()
        assert 'class="state state-expired"' in page and "Expired" in page
        detail = client.get(f"/portal/accounts/{account.uuid}").content.decode()
        assert "state-expired" in detail

    # Before the expiry the same requests are served (nothing was changed by refusing).
    assert _post(platform, f"v2/authentication/etsi/{ALICE_ID}", V2_AUTH).status_code == 200


@pytest.mark.django_db
def test_notices_before_expiry_are_sent_once_per_threshold(
    settings: Any, ca_hierarchy: Any
) -> None:
    settings.EXPIRY_NOTICE_DAYS = [30, 7]
    account = _active_account(valid_days=20)
    account.person.email = "alice@example.com"
    account.person.save()
    mail.outbox.clear()

    assert expiry_notices_send() == 1
    assert expiry_notices_send() == 0  # once
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["alice@example.com"]
    assert account.document_number in mail.outbox[0].subject
    with time_machine.travel(timezone.now() + timedelta(days=14)):
        assert expiry_notices_send() == 1  # 6 days left: the 7-day notice
        assert expiry_notices_send() == 0
    assert len(mail.outbox) == 2
    assert sorted(ExpiryNotice.objects.values_list("days_before", flat=True)) == [7, 30]
    with time_machine.travel(timezone.now() + timedelta(days=21)):
        assert expiry_notices_send() == 0  # expired: nothing more to announce


@pytest.mark.django_db
def test_a_notice_without_an_email_address_is_still_recorded(
    settings: Any, ca_hierarchy: Any
) -> None:
    settings.EXPIRY_NOTICE_DAYS = [30]
    account = _active_account(valid_days=5)
    mail.outbox.clear()
    assert expiry_notices_send() == 1
    assert mail.outbox == []
    assert ExpiryNotice.objects.get(account=account).emailed is False


@pytest.mark.django_db
def test_pending_registrations_expire_by_the_beat_task(settings: Any) -> None:
    settings.REGISTRATION_PENDING_HOURS = 24
    person = factories.person(ALICE)
    stale = factories.account(person, "old phone")
    with time_machine.travel(timezone.now() + timedelta(hours=23)):
        fresh = factories.account(person, "new phone")
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        result = account_expiry_housekeeping.delay().get()
        assert result["registrations_closed"] == 1
        assert registrations_expire_abandoned() == 0  # idempotent
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.state == Account.State.REVOKED
    assert fresh.state == Account.State.PENDING


def _active_account(*, valid_days: int) -> Account:
    """Alice's ACTIVE account whose certificates expire in ``valid_days`` (rows only)."""
    from pki.models import Certificate, CertificateAuthority

    account = factories.account(factories.person(ALICE))
    issuer = CertificateAuthority.objects.get(kind="Q")
    now = timezone.now()
    for number, purpose in enumerate(("AUTH", "SIGN"), start=1):
        certificate = Certificate.objects.create(
            issuer=issuer,
            serial_number=f"{number:x}",
            document_number=account.document_number,
            purpose=purpose,
            level="QUALIFIED",
            subject="CN=test",
            der=b"x",
            not_before=now,
            not_after=now + timedelta(days=valid_days),
        )
        SplitKey.objects.create(
            account=account,
            purpose=purpose,
            bits=1024,
            n1=f"{number}abc",
            n2="abc",
            token_hash=b"0" * 32,
            state=SplitKey.State.ACTIVE,
            certificate=certificate,
        )
    Account.objects.filter(pk=account.pk).update(state=Account.State.ACTIVE)
    account.refresh_from_db()
    return account
