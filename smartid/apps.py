from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender: AppConfig, apps: Any = None, **kwargs: Any) -> None:
    """Re-apply the operator roles after every migrate, as Django re-creates its model
    permissions then: a role group always has exactly ``smartid.roles``'s permissions."""
    from smartid.roles import roles_sync

    if apps is not None:
        roles_sync(apps)


class SmartidConfig(AppConfig):
    name = "smartid"
    verbose_name = "Smart-ID platform"

    def ready(self) -> None:
        from smartid import checks  # noqa: F401 -- registers the system checks

        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="smartid.roles")
