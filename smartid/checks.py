"""System checks that keep the embedded defaults out of production.

Django runs them for ``manage.py`` commands; ``refuse_unsafe_start`` runs them
when the ASGI/WSGI application or a Celery worker loads, so a live server
never starts on SQLite, eager tasks, a key file, ``DEBUG`` or the development
secret key, however it is launched.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, register, run_checks
from django.core.exceptions import ImproperlyConfigured

TAG = "smartid"


@register(TAG)
def live_mode_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """In live mode, refuse every embedded default."""
    if not settings.IS_LIVE:
        return []
    errors: list[CheckMessage] = []
    if settings.DEBUG:
        errors.append(Error("DEBUG must be off in live mode.", id="smartid.E001"))
    if settings.SECRET_KEY == settings.DEV_SECRET_KEY or len(settings.SECRET_KEY) < 50:
        errors.append(
            Error(
                "SECRET_KEY is the development key or shorter than 50 characters.",
                hint="python -c 'import secrets; print(secrets.token_urlsafe(64))'",
                id="smartid.E002",
            )
        )
    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
        errors.append(
            Error(
                "SQLite is the embedded default; set DATABASE_URL to PostgreSQL.", id="smartid.E003"
            )
        )
    if settings.CELERY_TASK_ALWAYS_EAGER:
        errors.append(
            Error("Tasks would run eagerly; set REDIS_URL or CELERY_BROKER_URL.", id="smartid.E004")
        )
    if settings.KEYSTORE_BACKEND == "file":
        errors.append(
            Error(
                "The file key store is for the embedded mode only.",
                hint="Set SMARTID_KEYSTORE=pkcs11 and the SMARTID_PKCS11_* variables.",
                id="smartid.E005",
            )
        )
    if not settings.ALLOWED_HOSTS:
        errors.append(Error("ALLOWED_HOSTS must name this service's host.", id="smartid.E006"))
    if not settings.REDIS_URL:
        errors.append(
            Error(
                "REDIS_URL is required for the event bus of several processes.", id="smartid.E007"
            )
        )
    if not settings.SESSION_COOKIE_SECURE:
        errors.append(Error("SMARTID_SECURE_COOKIES must stay on in live mode.", id="smartid.E008"))
    return errors


@register(TAG)
def keystore_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """A PKCS#11 key store needs its module and the user PIN, in every mode."""
    if settings.KEYSTORE_BACKEND != "pkcs11":
        return []
    errors: list[CheckMessage] = []
    if not settings.PKCS11_PIN:
        errors.append(
            Error(
                "SMARTID_PKCS11_PIN (or _FILE) is required by the pkcs11 key store.",
                id="smartid.E010",
            )
        )
    return errors


def refuse_unsafe_start() -> None:
    """Raise ``ImproperlyConfigured`` if any of this project's checks fails."""
    failures = [m for m in run_checks(tags=[TAG]) if m.is_serious()]
    if failures:
        raise ImproperlyConfigured("; ".join(f"{m.id}: {m.msg}" for m in failures))
