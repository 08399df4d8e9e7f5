"""Officer login: password + TOTP, TOTP enrolment, the throttle (per user name and address,
a growing delay, the same for unknown names), idle timeout, logout, CSRF."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.test.utils import CaptureQueriesContext
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


def _try(client: Client, username: str, password: str = PASSWORD) -> Any:
    """One POST of the password step (the test client's response type)."""
    return client.post("/ra/login/", {"username": username, "password": password})


def test_wrong_passwords_and_codes_lock_the_officer_out(office: Office, settings: Any) -> None:
    settings.RA_MAX_FAILED_LOGINS = 3
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for wait in (1, 2):
            assert b"Wrong user name or password" in _try(client, "olga", "wrong").content
            clock.shift(wait)
        _try(client, "olga")
        response = client.post("/ra/login/totp/", {"token": "000000"})  # the third failure
        assert response["Location"] == "/ra/login/"
        assert "ra_preauth" not in client.session
        # Locked: even the right password is not looked at.
        response = _try(client, "olga")
        assert response.status_code == 200
        assert b"Too many failed attempts. Try again in 30 minutes." in response.content
        assert "ra_preauth" not in client.session
        assert AuditRecord.objects.filter(action="officer.locked").count() == 1
        clock.shift(28 * 60)
        assert b"Try again in 2 minutes." in _try(client, "olga").content
        clock.shift(60)
        assert b"Try again in 60 s." in _try(client, "olga").content
        clock.shift(60)
        login(client, office.olga)


def test_each_failure_makes_the_next_try_wait_longer(office: Office, settings: Any) -> None:
    """1, 2, 4, 8 s, then RA_LOCKOUT_MINUTES; a try during the wait is not even looked at
    (the right password neither), and a success starts the count afresh."""
    settings.RA_MAX_FAILED_LOGINS = 5
    settings.RA_LOCKOUT_MINUTES = 30
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for wait in (1, 2, 4, 8):
            failed = _try(client, "olga", "wrong")
            assert b"Wrong user name or password." in failed.content
            assert b"Too many failed attempts" not in failed.content
            records = AuditRecord.objects.count()
            early = _try(client, "olga")
            assert early.status_code == 200 and "ra_preauth" not in client.session
            assert f"Too many failed attempts. Try again in {wait} s.".encode() in early.content
            assert b"Wrong user name" not in early.content
            assert AuditRecord.objects.count() == records  # nothing was checked
            clock.shift(wait - 0.5)
            assert b"Try again in 1 s." in _try(client, "olga").content
            clock.shift(0.5)
        locked = _try(client, "olga", "wrong")  # the fifth failure
        assert b"Wrong user name or password." in locked.content
        assert b"Too many failed attempts. Try again in 30 minutes." in locked.content
        assert AuditRecord.objects.filter(action="officer.locked", source_ip="127.0.0.1").exists()
        clock.shift(30 * 60)
        login(client, office.olga)
        # The success cleared the count: the next failure waits 1 s again.
        _try(Client(), "olga", "wrong")
        assert b"Try again in 1 s." in _try(Client(), "olga").content


def test_failures_from_elsewhere_do_not_lock_the_officer_out(office: Office, settings: Any) -> None:
    settings.RA_MAX_FAILED_LOGINS = 3
    attacker = Client(REMOTE_ADDR="203.0.113.7")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(3):
            assert b"Wrong user name or password." in _try(attacker, "olga", "guess").content
            clock.shift(10)
        assert b"Too many failed attempts" in _try(attacker, "olga").content
        assert "ra_preauth" not in attacker.session
        # Olga at her own desk (127.0.0.1) logs in at once, and Sven next to her too.
        login(Client(), office.olga)
        login(Client(), office.sven)
        assert b"Too many failed attempts" in _try(attacker, "olga").content  # still locked
    assert AuditRecord.objects.filter(action="officer.locked", source_ip="203.0.113.7").exists()


def _page(response: HttpResponse, username: str) -> str:
    """The login page as the user sees it, minus what differs per request anyway."""
    text = response.content.decode()
    text = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "CSRF", text)
    text = re.sub(r'nonce="[^"]+"', "NONCE", text)
    return text.replace(f'value="{username}"', 'value="NAME"')


def test_unknown_user_names_get_the_same_answer_work_and_throttle(
    office: Office, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unknown name: the same page, the same database queries, the same password hash
    (Django's backend hashes the password for a name that is nobody's), the same
    throttle and lock-out, the same kind of audit record — nothing that tells it apart
    from an officer's name with a wrong password."""
    settings.RA_MAX_FAILED_LOGINS = 2
    hashed: list[str] = []
    original = MD5PasswordHasher.encode

    def counting(self: MD5PasswordHasher, password: str, salt: str) -> str:
        hashed.append(password)
        return original(self, password, salt)

    monkeypatch.setattr(MD5PasswordHasher, "encode", counting)
    seen: dict[str, list[tuple[str, int, int]]] = {}
    start = timezone.now()
    for username in ("olga", "nobody"):
        client = Client()
        steps = []
        with time_machine.travel(start, tick=False) as clock:
            for shift in (0, 0, 1, 0, 30 * 60):  # fail, too early, fail + lock, locked, …
                clock.shift(shift)
                hashed.clear()
                with CaptureQueriesContext(connection) as queries:
                    response = _try(client, username, "wrong")
                assert response.status_code == 200
                steps.append((_page(response, username), len(queries), len(hashed)))
        seen[username] = steps
    assert seen["olga"] == seen["nobody"]
    assert [hashes for _, _, hashes in seen["olga"]] == [1, 0, 1, 0, 1]
    assert "Too many failed attempts. Try again in 30 minutes." in seen["nobody"][2][0]
    records = AuditRecord.objects.filter(action__startswith="officer.")
    known = records.filter(actor="officer:olga").values_list("action", flat=True)
    unknown = records.filter(actor="ra_office:unknown-user").values_list("action", flat=True)
    assert (
        sorted(known)
        == sorted(unknown)
        == [
            "officer.locked",
            "officer.locked",  # the lock-out over, one more failure locks again
            "officer.login_failed",
        ]
    )
    assert not AuditRecord.objects.filter(data__icontains="nobody").exists()


def test_wrong_codes_wait_like_wrong_passwords(office: Office) -> None:
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert _try(client, "olga")["Location"] == "/ra/login/totp/"
        wrong = client.post("/ra/login/totp/", {"token": "000000"})
        assert wrong.status_code == 200 and b"Wrong code" in wrong.content
        early = client.post("/ra/login/totp/", {"token": totp_now(office.olga)})
        assert early.status_code == 200
        assert b"Too many failed attempts. Try again in 1 s." in early.content
        assert client.get("/ra/").status_code == 302  # not logged in
        clock.shift(1)
        right = client.post("/ra/login/totp/", {"token": totp_now(office.olga)})
        assert right["Location"] == "/ra/"


@pytest.mark.django_db(transaction=True)  # the threads use connections of their own
def test_parallel_guesses_get_one_check_per_wait(office: Office) -> None:
    """Requests racing on one user name + address: one is checked, the others are told to
    wait, whatever node they reach (the claim is an atomic cache.add)."""
    count = 6
    barrier = threading.Barrier(count)
    answers: list[bytes] = []

    def guess() -> None:
        barrier.wait()
        answers.append(_try(Client(), "olga", "wrong").content)

    threads = [threading.Thread(target=guess) for _ in range(count)]
    with time_machine.travel(timezone.now(), tick=False):  # a slow thread is not "later"
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    checked = [a for a in answers if b"Wrong user name or password." in a]
    refused = [a for a in answers if b"Too many failed attempts. Try again in" in a]
    assert len(checked) == 1 and len(refused) == count - 1
    assert AuditRecord.objects.filter(action="officer.login_failed").count() == 1


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
