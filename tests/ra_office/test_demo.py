"""The RA office part of ``demo_setup``: idempotent, prints logins and TOTP keys."""

from __future__ import annotations

import pytest

from demo.officers import DEMO_OFFICERS, ra_demo_setup
from demo.registry import DEMO_REGISTRY
from enrolment.models import Branch, Officer, RegistryPerson


@pytest.mark.django_db
def test_ra_demo_setup_is_idempotent() -> None:
    first = "\n".join(ra_demo_setup(base_url="http://127.0.0.1:8000"))
    second = "\n".join(ra_demo_setup(base_url="http://127.0.0.1:8000"))
    assert Officer.objects.count() == len(DEMO_OFFICERS) and Branch.objects.count() == 2
    assert RegistryPerson.objects.count() == len(DEMO_REGISTRY)
    assert "otpauth://totp/" in first and "/ra/" in first
    uri = [line.split("TOTP ")[1] for line in first.splitlines() if "olga" in line][0]
    assert uri in second  # the authenticator keeps working; the password is new
    assert first != second
