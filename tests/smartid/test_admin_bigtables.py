"""Admin lists for big tables (``core.bigtables``): the date hierarchy's years and months
come from the first and last date, and an unfiltered big table is not counted row by row
on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditRecord
from audit.services import audit_record
from core import bigtables
from core.bigtables import BigTablePaginator

pytestmark = pytest.mark.django_db


@pytest.fixture
def records() -> list[AuditRecord]:
    """Records on 2025-11-30, 2026-01-15 and 2026-03-02 (none in December or February)."""
    made = []
    for moment in (
        datetime(2025, 11, 30, 12, tzinfo=UTC),
        datetime(2026, 1, 15, 12, tzinfo=UTC),
        datetime(2026, 3, 2, 12, tzinfo=UTC),
    ):
        record = audit_record(actor="test", action="test.event", object_type="t", object_id=1)
        AuditRecord.objects.filter(pk=record.pk).update(created_at=moment)
        made.append(record)
    return made


@pytest.fixture
def root() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("root", "root@example.test", "pw"))
    return client


def _hierarchy_sql(client: Client, params: dict[str, str]) -> tuple[str, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get("/admin/audit/auditrecord/", params)
    assert response.status_code == 200
    return response.content.decode(), [q["sql"] for q in queries.captured_queries]


def test_years_and_months_come_from_the_range(root: Client, records: list[Any]) -> None:
    page, sql = _hierarchy_sql(root, {})
    assert "created_at__year=2025" in page and "created_at__year=2026" in page
    assert not any("DISTINCT" in q for q in sql), "no scan of every row for the years"
    page, sql = _hierarchy_sql(root, {"created_at__year": "2026"})
    for month in (1, 2, 3):  # February has no record but lies in the range
        assert f"created_at__month={month}" in page
    assert "created_at__month=4" not in page
    assert not any("DISTINCT" in q for q in sql)
    page, _ = _hierarchy_sql(root, {"created_at__year": "2026", "created_at__month": "1"})
    assert "created_at__day=15" in page  # days: from the rows of the month
    assert "created_at__day=16" not in page


def test_an_empty_table_has_no_hierarchy(root: Client) -> None:
    AuditRecord.objects.all().delete()
    page, _ = _hierarchy_sql(root, {})
    assert "created_at__year" not in page


def test_small_or_filtered_tables_are_counted_exactly(records: list[Any]) -> None:
    assert BigTablePaginator(AuditRecord.objects.all(), 50).count == AuditRecord.objects.count()
    filtered = AuditRecord.objects.filter(action="test.event")
    assert BigTablePaginator(filtered, 50).count == 3


@pytest.mark.postgres
def test_a_big_unfiltered_table_is_estimated(
    records: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE audit_auditrecord")
    estimate = bigtables._estimated_rows(AuditRecord.objects.all())
    assert estimate == AuditRecord.objects.count()
    monkeypatch.setattr(bigtables, "ESTIMATE_FROM", 1)
    with CaptureQueriesContext(connection) as queries:
        assert BigTablePaginator(AuditRecord.objects.all(), 50).count == estimate
    assert not any("COUNT(" in q["sql"] for q in queries.captured_queries)
    filtered = AuditRecord.objects.filter(action="test.event")
    assert BigTablePaginator(filtered, 50).count == 3
