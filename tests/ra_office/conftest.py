"""RA office fixtures; the personas (Olga and supervisor Sven of branch A, Bob the outsider
as an officer of branch B) come from the ``office`` fixture of tests/conftest.py, and
``login(client, officer)`` (tests/helpers/ra_office.py) goes through the real password and
TOTP pages. Here: an administrator without an officer profile."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth import get_user_model

from tests.personas import PASSWORD


@pytest.fixture
def admin_user(db: None) -> Any:
    return get_user_model().objects.create_superuser("admin", "admin@example.org", PASSWORD)
