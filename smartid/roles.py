"""Operator roles: Django groups with least privilege (docs/operations-roles.md).

A role is a group whose permissions are exactly the ones listed here; the admin pages
check those permissions (Django's ``view_<model>`` for reading, a custom permission
for every change an operator may make). The custom permissions live here rather than
in the models' ``Meta`` because they describe who operates the service, not the rows:
this one table is the whole policy, and one idempotent migration applies it.

Changing a role: edit ``ROLES`` and add a data migration that calls ``roles_sync`` (it
sets every role group's permissions to exactly the table's, so a permission granted by
hand in between is taken away again).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from django.apps import apps as global_apps
from django.contrib.auth import get_user_model
from django.db import transaction

from audit.services import audit_record
from core.errors import DomainError


@dataclass(frozen=True)
class CustomPermission:
    """A permission Django's add/change/delete/view do not express."""

    app_label: str
    model: str
    codename: str
    name: str


CUSTOM_PERMISSIONS: tuple[CustomPermission, ...] = (
    CustomPermission(
        "accounts", "account", "suspend_account", "Suspend an account on its owner's behalf"
    ),
    CustomPermission("accounts", "account", "close_account", "Close an account for good"),
    CustomPermission("accounts", "person", "issue_ticket", "Create a registration ticket"),
    CustomPermission(
        "pki", "certificate", "revoke_certificate", "Revoke, hold and release certificates"
    ),
    CustomPermission("pki", "certificateauthority", "publish_crl", "Publish a CRL now"),
    CustomPermission("audit", "auditrecord", "verify_audit_chain", "Verify the audit chain"),
    # No role has these two: superusers only.
    CustomPermission(
        "signing", "splitkey", "view_key_material", "View key records and CA key labels"
    ),
    CustomPermission(
        "enrolment",
        "onboardingapplication",
        "view_biometric_data",
        "View liveness and face-comparison data",
    ),
)


@dataclass(frozen=True)
class Role:
    slug: str
    group: str
    summary: str
    #: ``app_label.codename``, as ``User.has_perm`` spells them.
    permissions: tuple[str, ...]


ROLES: tuple[Role, ...] = (
    Role(
        "support",
        "Support desk",
        "Looks a person up (every page audited) and suspends an account with a reason.",
        (
            "accounts.view_person",
            "accounts.view_account",
            "accounts.view_device",
            "accounts.suspend_account",
            "pki.view_certificate",
            "signing.view_transaction",
            "enrolment.view_registrationticket",
            "enrolment.view_application",
            "enrolment.view_onboardingapplication",
        ),
    ),
    Role(
        "ca-operator",
        "CA operator",
        "Revokes, holds and releases certificates and publishes CRLs, each with a reason.",
        (
            "pki.view_certificate",
            "pki.view_certificateauthority",
            "pki.view_revocationlist",
            "pki.revoke_certificate",
            "pki.publish_crl",
        ),
    ),
    Role(
        "auditor",
        "Auditor",
        "Reads the audit log and verifies its hash chain.",
        ("audit.view_auditrecord", "audit.verify_audit_chain"),
    ),
    Role(
        "rp-manager",
        "RP manager",
        "Adds and changes relying parties (addresses, permissions), reads RP sessions and "
        "their monthly usage, and prints usage statements.",
        (
            "rp.view_relyingparty",
            "rp.add_relyingparty",
            "rp.change_relyingparty",
            "rp.view_rpsession",
            "rp.view_usage",
        ),
    ),
)

ROLE_BY_SLUG = {role.slug: role for role in ROLES}
_DEFAULT_ACTIONS = ("add", "change", "delete", "view")


def _model_of(app_label: str, codename: str) -> tuple[str, str]:
    """(model, permission name) of ``app_label.codename``."""
    for custom in CUSTOM_PERMISSIONS:
        if custom.app_label == app_label and custom.codename == codename:
            return custom.model, custom.name
    action, _, model = codename.partition("_")
    if action not in _DEFAULT_ACTIONS or not model:
        raise ValueError(f"Unknown permission {app_label}.{codename}")
    return model, ""


def roles_sync(apps: Any = global_apps) -> None:
    """Create the custom permissions and the role groups, each with exactly its table's
    permissions. Idempotent; ``apps`` is a migration's historical registry (or the
    project's). Content types and model permissions are created when missing, so it
    works inside a first ``migrate`` (before Django's post-migrate step makes them).
    """
    content_type_model = apps.get_model("contenttypes", "ContentType")
    permission_model = apps.get_model("auth", "Permission")
    group_model = apps.get_model("auth", "Group")

    def permission(app_label: str, codename: str) -> Any:
        model, name = _model_of(app_label, codename)
        content_type, _ = content_type_model.objects.get_or_create(app_label=app_label, model=model)
        if not name:  # a model permission: named the way Django names it
            verbose = apps.get_model(app_label, model)._meta.verbose_name_raw
            name = f"Can {codename.partition('_')[0]} {verbose}"
        row, _ = permission_model.objects.get_or_create(
            content_type=content_type, codename=codename, defaults={"name": name}
        )
        return row

    for custom in CUSTOM_PERMISSIONS:
        permission(custom.app_label, custom.codename)
    for role in ROLES:
        group, _ = group_model.objects.get_or_create(name=role.group)
        wanted = [permission(*full.split(".", 1)) for full in role.permissions]
        group.permissions.set(wanted)


class OperatorError(DomainError):
    pass


@transaction.atomic
def operator_create(
    *, username: str, roles: list[str], actor: str, password: str | None = None
) -> tuple[Any, str]:
    """A staff user (never a superuser) in the given role groups; returns it and its
    password (generated when not given). Audited."""
    if not roles:
        raise OperatorError("At least one role.")
    unknown = sorted(set(roles) - set(ROLE_BY_SLUG))
    if unknown:
        raise OperatorError(f"Unknown role(s): {', '.join(unknown)}.")
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise OperatorError(f"The user {username!r} exists already.")
    if password is None:
        password = secrets.token_urlsafe(12)
    elif len(password) < 12:
        raise OperatorError("The password must have at least 12 characters.")
    group_model = global_apps.get_model("auth", "Group")
    groups = []
    for slug in roles:
        group = group_model.objects.filter(name=ROLE_BY_SLUG[slug].group).first()
        if group is None:
            raise OperatorError("The role groups are missing: run manage.py migrate.")
        groups.append(group)
    user = user_model.objects.create_user(username=username, password=password, is_staff=True)
    user.groups.set(groups)
    audit_record(
        actor=actor,
        action="operator.created",
        object_type="auth.User",
        object_id=user.pk,
        data={"username": username, "roles": sorted(set(roles))},
    )
    return user, password
