"""Officer login: password + TOTP, TOTP enrolment, lock-out, idle timeout, logout, CSRF."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditRecord
from enrolment.models import Officer
from tests.factories import Office
from tests.helpers.ra_office import login, totp_now
from tests.personas import PASSWORD


def test_first_login_enrols_the_authenticator(office: Office) -> None:
    client = Client()
    response = client.post("/ra/login/", {"username": "olga", "password": PASSWORD})
    assert response["Location"] == "/ra/login/totp/"
    page = client.get("/ra/login/totp/")
    assert b"<svg" in page.content and b'id="totp-secret"' in page.content
    assert client.get("/ra/").status_code == 302  # not logged in before the code
    response = client.post("/ra/login/totp/", {"token": totp_now(office.olga)})
    assert response["Location"] == "/ra/"
    assert client.get("/ra/").status_code == 200
    officer = Officer.objects.get(pk=office.olga.pk)
    assert officer.totp_confirmed
    assert TOTPDevice.objects.get(user=officer.user).confirmed
    # The next login asks for the code without showing the key again.
    with time_machine.travel(timezone.now() + timedelta(seconds=60)):
        second = Client()
        second.post("/ra/login/", {"username": "olga", "password": PASSWORD})
        assert b'id="totp-secret"' not in second.get("/ra/login/totp/").content


def test_wrong_passwords_and_codes_lock_the_officer_out(office: Office, settings: Any) -> None:
    settings.RA_MAX_FAILED_LOGINS = 3
    client = Client()
    for _ in range(2):
        response = client.post("/ra/login/", {"username": "olga", "password": "wrong"})
        assert b"Wrong user name or password" in response.content
    client.post("/ra/login/", {"username": "olga", "password": PASSWORD})
    response = client.post("/ra/login/totp/", {"token": "000000"})  # the third failure
    assert response["Location"] == "/ra/login/"
    assert Officer.objects.get(pk=office.olga.pk).is_locked(timezone.now())
    # Locked: even the right password and code do not get in.
    response = client.post("/ra/login/", {"username": "olga", "password": PASSWORD})
    assert response.status_code == 200 and b"Too many failed attempts" in response.content
    assert AuditRecord.objects.filter(action="officer.locked").count() == 1
    with time_machine.travel(timezone.now() + timedelta(minutes=31)):
        login(Client(), office.olga)


def test_unknown_users_get_the_same_answer(office: Office) -> None:
    response = Client().post("/ra/login/", {"username": "nobody", "password": "x"})
    assert b"Wrong user name or password" in response.content


def test_an_administrator_is_not_an_officer(office: Office, admin_user: Any) -> None:
    client = Client()
    response = client.post("/ra/login/", {"username": "admin", "password": PASSWORD})
    assert b"Wrong user name or password" in response.content
    client.force_login(admin_user)
    assert client.get("/ra/").status_code == 403


def test_the_session_ends_after_15_idle_minutes(office: Office) -> None:
    client = Client()
    login(client, office.olga)
    with time_machine.travel(timezone.now() + timedelta(minutes=14)):
        assert client.get("/ra/").status_code == 200  # activity renews the deadline
    with time_machine.travel(timezone.now() + timedelta(minutes=28)):
        assert client.get("/ra/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=44)):
        response = client.get("/ra/")
        assert response["Location"] == "/ra/login/"
        assert client.get("/ra/").status_code == 302  # the session is gone
    assert AuditRecord.objects.filter(
        action="officer.logged_out", data__reason="idle timeout"
    ).exists()


def test_logout(office: Office) -> None:
    client = Client()
    login(client, office.olga)
    assert client.get("/ra/logout/").status_code == 405  # POST only
    assert client.post("/ra/logout/")["Location"] == "/ra/login/"
    assert client.get("/ra/")["Location"] == "/ra/login/"


def test_the_password_step_expires(office: Office) -> None:
    client = Client()
    client.post("/ra/login/", {"username": "olga", "password": PASSWORD})
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        response = client.post("/ra/login/totp/", {"token": totp_now(office.olga)})
        assert response["Location"] == "/ra/login/"


def test_forms_need_a_csrf_token(office: Office) -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/ra/login/", {"username": "olga", "password": PASSWORD})
    assert response.status_code == 403
    assert "_auth_user_id" not in client.session and "ra_preauth" not in client.session


def test_create_officer_prints_the_provisioning_uri(office: Office, tmp_path: Any) -> None:
    out = StringIO()
    secret = tmp_path / "pw"
    secret.write_text("a long enough password\n")
    call_command(
        "create_officer",
        "olev",
        "--branch",
        "a",
        "--role",
        "supervisor",
        "--password-file",
        str(secret),
        "--given-name",
        "Olev",
        "--surname",
        "Ots",
        stdout=out,
    )
    text = out.getvalue()
    assert "otpauth://totp/" in text and ("█" in text or "▀" in text)  # URI and terminal QR
    officer = Officer.objects.get(user__username="olev")
    assert officer.is_supervisor and officer.branch.code == "a"
    assert officer.user.check_password("a long enough password")
    with pytest.raises(CommandError, match="exists"):
        call_command(*NAMED, "olev", "--branch", "a", stdout=StringIO())
    with pytest.raises(CommandError, match="No branch"):
        call_command(*NAMED, "x", "--branch", "zz", stdout=StringIO())
    with pytest.raises(CommandError, match="surname"):  # the four-eyes rule needs it
        call_command("create_officer", "y", "--branch", "a", "--given-name", "Y")


NAMED = ("create_officer", "--given-name", "X", "--surname", "Y")


def test_the_admin_cannot_see_or_delete_officers_totp_devices(
    office: Office, admin_user: Any
) -> None:
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 404
    assert client.get("/admin/otp_totp/totpdevice/1/qrcode/").status_code == 404


def test_reset_officer_totp_is_audited_and_forces_enrolment(office: Office) -> None:
    assert TOTPDevice.objects.filter(user=office.sven.user).exists()
    call_command("reset_officer_totp", "sven", stdout=StringIO())
    assert not TOTPDevice.objects.filter(user=office.sven.user).exists()
    assert AuditRecord.objects.filter(action="officer.totp_reset").count() == 1
    with pytest.raises(CommandError):
        call_command("reset_officer_totp", "nobody", stdout=StringIO())
