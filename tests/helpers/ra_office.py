"""Logging in to the RA office as a person does: password, then the authenticator's code."""

from __future__ import annotations

from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from enrolment.models import Officer
from tests.personas import PASSWORD


def totp_now(officer: Officer, *, offset: int = 0) -> str:
    """The code the officer's authenticator shows now (``offset`` steps later)."""
    device = TOTPDevice.objects.filter(user=officer.user).order_by("-confirmed").first()
    assert device is not None
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + offset * device.step
    return f"{totp.token():06d}"


def login(client: Client, officer: Officer) -> None:
    """Password, then the TOTP code (which also confirms the device the first time)."""
    response = client.post("/ra/login/", {"username": officer.username, "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/ra/login/totp/", response
    response = client.post("/ra/login/totp/", {"token": totp_now(officer)})
    assert response.status_code == 302 and response["Location"] == "/ra/", response
