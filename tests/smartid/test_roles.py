"""The operator roles: groups made by a migration, idempotent, least privilege; and the
``create_operator`` command."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from audit.models import AuditRecord
from smartid.roles import CUSTOM_PERMISSIONS, ROLES, roles_sync

pytestmark = pytest.mark.django_db

#: Permissions no role may ever hold (superusers only).
SUPERUSER_ONLY = {
    "signing.view_key_material",
    "enrolment.view_biometric_data",
    "accounts.close_account",
    "accounts.issue_ticket",
}


def _granted(group: Group) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in group.permissions.values_list("content_type__app_label", "codename")
    }


def test_each_role_group_has_exactly_its_permissions() -> None:
    roles_sync()  # as the migration and every later migrate do
    for role in ROLES:
        group = Group.objects.get(name=role.group)
        assert _granted(group) == set(role.permissions), role.slug
        assert not _granted(group) & SUPERUSER_ONLY, role.slug
        # No role changes or deletes anything but the RP manager's relying parties.
        writes = {p for p in _granted(group) if p.split(".")[1].startswith(("change_", "delete_"))}
        assert writes <= {"rp.change_relyingparty"}, role.slug


def test_sync_is_idempotent_and_takes_back_what_was_added_by_hand() -> None:
    roles_sync()
    support = Group.objects.get(name="Support desk")
    support.permissions.add(Permission.objects.get(codename="view_key_material"))
    permissions = Permission.objects.count()
    roles_sync()
    roles_sync()
    assert Permission.objects.count() == permissions
    assert Group.objects.filter(name="Support desk").count() == 1
    assert "signing.view_key_material" not in _granted(support)


def test_the_migration_works_on_the_historical_models() -> None:
    """The data migration runs against the migration state (where the model permissions
    may not exist yet): it makes them, and the custom ones, itself."""
    executor = MigrationExecutor(connection)
    state = executor.loader.project_state(("smartid", "0001_operator_roles"))
    Group.objects.all().delete()
    Permission.objects.filter(
        codename__in=[custom.codename for custom in CUSTOM_PERMISSIONS]
    ).delete()
    roles_sync(state.apps)
    for role in ROLES:
        assert _granted(Group.objects.get(name=role.group)) == set(role.permissions)
    custom = Permission.objects.get(codename="verify_audit_chain")
    assert custom.name == "Verify the audit chain"


# --- create_operator ------------------------------------------------------------------


def test_create_operator_makes_a_staff_user_in_the_role() -> None:
    out = io.StringIO()
    call_command("create_operator", "sam", "--role", "support", stdout=out)
    user = User.objects.get(username="sam")
    assert user.is_staff and not user.is_superuser
    assert list(user.groups.values_list("name", flat=True)) == ["Support desk"]
    password = out.getvalue().split("Password: ")[1].strip()
    assert len(password) >= 16 and user.check_password(password)
    assert user.has_perm("accounts.view_person") and user.has_perm("accounts.suspend_account")
    assert not user.has_perm("pki.revoke_certificate")
    record = AuditRecord.objects.get(action="operator.created")
    assert record.actor == "command:create_operator"
    assert record.data == {"username": "sam", "roles": ["support"]}


def test_two_roles_and_a_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("a-long-enough-password\n", encoding="utf-8")
    out = io.StringIO()
    call_command(
        "create_operator",
        "carl",
        "--role",
        "ca-operator",
        "--role",
        "auditor",
        "--password-file",
        str(secret),
        stdout=out,
    )
    user = User.objects.get(username="carl")
    assert set(user.groups.values_list("name", flat=True)) == {"CA operator", "Auditor"}
    assert user.check_password("a-long-enough-password")
    assert "Password" not in out.getvalue()


def test_bad_input_is_an_error_and_creates_nobody(tmp_path: Path) -> None:
    call_command("create_operator", "sam", "--role", "support", stdout=io.StringIO())
    short = tmp_path / "short"
    short.write_text("short\n", encoding="utf-8")
    cases = [
        (["sam", "--role", "auditor"], "exists already"),
        (["eve", "--role", "auditor", "--password-file", str(short)], "at least 12"),
        (["eve", "--role", "auditor", "--password-file", str(tmp_path / "none")], "Cannot read"),
    ]
    for args, message in cases:
        with pytest.raises(CommandError, match=message):
            call_command("create_operator", *args, stdout=io.StringIO())
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("create_operator", "eve", "--role", "superuser", stdout=io.StringIO())
    assert not User.objects.filter(username="eve").exists()
    assert User.objects.get(username="sam").groups.count() == 1
