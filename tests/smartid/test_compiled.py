"""Precompiled queries (core/compiled.py): the same rows and instances as the ORM, the SQL
compiled once per connection, values bound at every run, the ORM's guards kept."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.transaction import TransactionManagementError
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Device, Person
from core.compiled import Arg, CompiledQuery, CompiledUpdate, attach_related
from enrolment.models import Application
from tests import factories
from tests.personas import ALICE, BOB

pytestmark = pytest.mark.django_db(transaction=True)

DEVICE_PK = Device._meta.pk


def _device_query(calls: list[int] | None = None) -> CompiledQuery[Device]:
    def build() -> Any:
        if calls is not None:
            calls.append(1)
        return Device.objects.filter(pk=Arg("id", DEVICE_PK), state=Device.State.ACTIVE)[:1]

    return CompiledQuery(build)


def _fields(obj: Any) -> dict[str, Any]:
    values = {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}
    return {k: bytes(v) if isinstance(v, memoryview) else v for k, v in values.items()}


@pytest.fixture
def two_accounts() -> tuple[Account, Account]:
    alice = factories.account(factories.person(ALICE), device_name="Alice's phone")
    bob = factories.account(factories.person(BOB), device_name="Bob's phone")
    Device.objects.filter(pk=alice.device_id).update(
        state=Device.State.ACTIVE, last_seen_at=timezone.now(), last_ip="192.0.2.7"
    )
    Device.objects.filter(pk=bob.device_id).update(state=Device.State.ACTIVE)
    return alice, bob


def test_the_same_instances_as_the_orm_for_each_bound_value(
    two_accounts: tuple[Account, Account],
) -> None:
    alice, bob = two_accounts
    query = _device_query()
    for account in (alice, bob, alice):  # values are bound per run, not fixed at compile
        found = query.first(id=account.device_id)
        expected = Device.objects.get(pk=account.device_id)
        assert found is not None and found.pk == account.device_id
        assert _fields(found) == _fields(expected)  # uuid, bytes, JSON, datetime, address
        assert found._state.adding is False and found._state.db == "default"
    assert query.first(id=uuid.uuid4()) is None
    Device.objects.filter(pk=bob.device_id).update(state=Device.State.DISABLED)
    assert query.first(id=bob.device_id) is None  # the constant of the queryset holds


def test_compiled_once_per_connection_then_one_statement_per_run(
    two_accounts: tuple[Account, Account],
) -> None:
    alice, bob = two_accounts
    calls: list[int] = []
    query = _device_query(calls)
    query.first(id=alice.device_id)
    with CaptureQueriesContext(connection) as captured:
        query.first(id=bob.device_id)
        query.first(id=alice.device_id)
    assert len(calls) == 1
    assert len(captured.captured_queries) == 2

    # Another thread has its own connection: its own plan, the same answers.
    seen: list[Any] = []
    worker = threading.Thread(target=lambda: seen.append(query.first(id=bob.device_id)))
    worker.start()
    worker.join()
    assert seen and seen[0].pk == bob.device_id
    assert len(calls) == 2


def test_select_related_is_populated_without_another_query(
    two_accounts: tuple[Account, Account],
) -> None:
    alice, _ = two_accounts
    query: CompiledQuery[Account] = CompiledQuery(
        lambda: Account.objects.select_related("device", "person").filter(
            device=Arg("device", DEVICE_PK)
        )
    )
    (found,) = query.all(device=alice.device_id)
    with CaptureQueriesContext(connection) as captured:
        assert found.device.name == "Alice's phone"
        assert found.person.semantics_identifier == ALICE.semantics_identifier
    assert captured.captured_queries == []
    assert _fields(found) == _fields(Account.objects.get(pk=alice.pk))


def test_a_missing_value_is_an_error() -> None:
    with pytest.raises(TypeError, match="'id'"):
        _device_query().first()


def test_row_locks_only_inside_a_transaction(two_accounts: tuple[Account, Account]) -> None:
    alice, _ = two_accounts
    query: CompiledQuery[Device] = CompiledQuery(
        lambda: Device.objects.select_for_update().filter(pk=Arg("id", DEVICE_PK))
    )
    with transaction.atomic():
        assert query.first(id=alice.device_id) is not None
        with CaptureQueriesContext(connection) as captured:
            query.first(id=alice.device_id)
    if connection.features.has_select_for_update:
        assert "FOR UPDATE" in captured.captured_queries[0]["sql"]
        with pytest.raises(TransactionManagementError):
            query.first(id=alice.device_id)  # autocommit: Django refuses it too


def test_compiled_update_writes_the_listed_fields_only(
    two_accounts: tuple[Account, Account],
) -> None:
    alice, bob = two_accounts
    update = CompiledUpdate(Device, ["last_seen_at", "last_ip"])
    device = Device.objects.get(pk=alice.device_id)
    moment = timezone.now() - timedelta(hours=3)
    device.last_seen_at, device.last_ip, device.name = moment, "2001:db8::5", "renamed"
    with CaptureQueriesContext(connection) as captured:
        update.save(device)
    assert len(captured.captured_queries) == 1
    stored = Device.objects.get(pk=alice.device_id)
    assert (stored.last_seen_at, stored.last_ip) == (moment, "2001:db8::5")
    assert stored.name == "Alice's phone"  # not listed: not written
    assert Device.objects.get(pk=bob.device_id).last_ip is None  # another row: untouched


def test_compiled_update_of_a_missing_row_fails() -> None:
    ghost = Device(pk=uuid.uuid4(), name="ghost", public_key=b"k")
    with pytest.raises(DatabaseError, match="did not affect any rows"):
        CompiledUpdate(Device, ["name"]).save(ghost)


@pytest.mark.parametrize(("model", "field"), [(Device, "id"), (Application, "updated_at")])
def test_compiled_update_refuses_the_key_and_automatic_times(model: Any, field: str) -> None:
    with pytest.raises(ValueError, match="not a plain column"):
        CompiledUpdate(model, [field])


def test_attached_rows_answer_the_reverse_accessor_without_a_query(
    two_accounts: tuple[Account, Account],
) -> None:
    alice, bob = two_accounts
    query: CompiledQuery[Person] = CompiledQuery(
        lambda: Person.objects.filter(pk=Arg("id", Person._meta.pk))
    )
    (person,) = query.all(id=alice.person_id)
    attach_related(person, "accounts", [alice])
    with CaptureQueriesContext(connection) as captured:
        assert [a.pk for a in person.accounts.all()] == [alice.pk]
    assert captured.captured_queries == []
    attach_related(person, "accounts", [])  # what was read is what is answered
    assert list(person.accounts.all()) == []
    fresh = Person.objects.get(pk=bob.person_id)  # without it: the ORM reads as usual
    assert [a.pk for a in fresh.accounts.all()] == [bob.pk]
