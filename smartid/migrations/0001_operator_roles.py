"""The operator roles (``smartid.roles``): custom permissions and one group per role."""

from __future__ import annotations

from typing import Any

from django.db import migrations


def apply_roles(apps: Any, schema_editor: Any) -> None:
    from smartid.roles import roles_sync

    roles_sync(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0001_initial"),
        ("audit", "0001_initial"),
        ("pki", "0001_initial"),
        ("signing", "0001_initial"),
        ("enrolment", "0004_onboarding"),
        ("rp", "0004_usage_metering"),
    ]

    # Reversing keeps the groups (an operator's membership is not ours to drop).
    operations = [migrations.RunPython(apply_roles, migrations.RunPython.noop)]
