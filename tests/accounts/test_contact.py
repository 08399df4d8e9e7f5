"""person_set_contact: checked, audited, and nothing changes on bad input."""

from __future__ import annotations

import pytest

from accounts.services import InvalidPerson, person_get_or_create, person_set_contact
from audit.models import AuditRecord

pytestmark = pytest.mark.django_db


def test_contact_changes_are_checked_and_audited() -> None:
    alice = person_get_or_create(
        semantics_identifier="PNOEE-49002124277", given_name="Alice", surname="Tamm", actor="t"
    )
    person_set_contact(person=alice, email="alice@example.org", phone="+372 5555 1234", actor="a")
    alice.refresh_from_db()
    assert (alice.email, alice.phone) == ("alice@example.org", "+372 5555 1234")
    record = AuditRecord.objects.get(action="person.contact_changed")
    assert record.data == {"fields": ["email", "phone"]}
    person_set_contact(person=alice, email="alice@example.org", actor="a")  # no change: no record
    assert AuditRecord.objects.filter(action="person.contact_changed").count() == 1
    for kwargs in ({"email": "nope"}, {"phone": "12"}, {"email": "a@" + "b" * 260 + ".ee"}):
        with pytest.raises(InvalidPerson):
            person_set_contact(person=alice, actor="a", **kwargs)
    alice.refresh_from_db()
    assert (alice.email, alice.phone) == ("alice@example.org", "+372 5555 1234")
