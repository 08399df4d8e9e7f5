"""System checks that keep the embedded defaults out of production.

Django runs them for ``manage.py`` commands; ``refuse_unsafe_start`` runs them
when the ASGI/WSGI application or a Celery worker loads, so a live server
never starts on SQLite, eager tasks, a key file, ``DEBUG`` or the development
secret key, however it is launched.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography.x509.oid import NameOID
from django.apps import AppConfig, apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, register, run_checks
from django.core.checks import Warning as CheckWarning
from django.core.exceptions import ImproperlyConfigured

from enrolment.emrtd import CscaTrustStore, EmrtdError
from enrolment.emrtd.trust import TEST_MARKER
from enrolment.mobileid.config import TrustBundleError, load_trust_anchors

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
    if settings.FAULT_KILL_AT:
        errors.append(
            Error("SMARTID_FAULT_KILL_AT is a test hook; leave it empty.", id="smartid.E009")
        )
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


@register(TAG)
def demo_app_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """The demo app is never installed in live: it mints ID-cards for any personal code,
    signs Mobile-ID answers with public test keys and fills the service with test people.
    The settings leave it out in live; this refuses a deployment that adds it back.
    """
    if settings.IS_LIVE and apps.is_installed("demo"):
        return [
            Error(
                "The demo app is installed in live mode.",
                hint="Remove 'demo' from INSTALLED_APPS.",
                id="smartid.E901",
            )
        ]
    return []


def refuse_unsafe_start() -> None:
    """Raise ``ImproperlyConfigured`` if any of this project's checks fails."""
    failures = [m for m in run_checks(tags=[TAG]) if m.is_serious()]
    if failures:
        raise ImproperlyConfigured("; ".join(f"{m.id}: {m.msg}" for m in failures))


@register(TAG)
def mobile_id_and_secondary_check(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """Mobile-ID trust and message delivery: no simulator or fake delivery in live."""
    errors: list[CheckMessage] = []
    if settings.MOBILE_ID_TRUSTED_CA_PATH:
        try:
            load_trust_anchors(Path(settings.MOBILE_ID_TRUSTED_CA_PATH))
        except TrustBundleError as exc:
            errors.append(Error(f"MOBILE_ID_TRUSTED_CA_PATH: {exc}", id="smartid.E851"))
    if not settings.IS_LIVE:
        return errors
    if settings.MOBILE_ID_SIMULATOR:
        errors.append(
            Error(
                "The Mobile-ID simulator signs with public test keys; it is refused in live.",
                hint="Unset MOBILE_ID_SIMULATOR.",
                id="smartid.E852",
            )
        )
    if settings.MOBILE_ID_URL:
        if not settings.MOBILE_ID_URL.startswith("https://"):
            errors.append(Error("MOBILE_ID_URL must be an https URL.", id="smartid.E853"))
        if not settings.MOBILE_ID_TRUSTED_CA_PATH:
            errors.append(
                Error(
                    "MOBILE_ID_TRUSTED_CA_PATH is required when MOBILE_ID_URL is set.",
                    id="smartid.E854",
                )
            )
        if not (settings.MOBILE_ID_RELYING_PARTY_UUID and settings.MOBILE_ID_RELYING_PARTY_NAME):
            errors.append(
                Error(
                    "MOBILE_ID_RELYING_PARTY_UUID and _NAME are required with MOBILE_ID_URL.",
                    id="smartid.E855",
                )
            )
    fake_sms = ("enrolment.secondary.ConsoleSmsBackend", "enrolment.secondary.LocmemSmsBackend")
    if settings.SMS_BACKEND in fake_sms:
        errors.append(
            Error("SMS_BACKEND must be a real gateway (or empty) in live.", id="smartid.E856")
        )
    fake_mail = (
        "django.core.mail.backends.console.EmailBackend",
        "django.core.mail.backends.locmem.EmailBackend",
        "django.core.mail.backends.dummy.EmailBackend",
        "django.core.mail.backends.filebased.EmailBackend",
    )
    if settings.EMAIL_BACKEND in fake_mail:
        errors.append(Error("EMAIL_BACKEND must deliver real mail in live.", id="smartid.E857"))
    return errors


@register(TAG)
def portal_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """The virtual ID-card (anyone can make any card) never runs in live mode."""
    if not settings.IS_LIVE:
        return []
    errors: list[CheckMessage] = []
    if settings.PORTAL_VIRTUAL_CARD:
        errors.append(
            Error(
                "SMARTID_PORTAL_VIRTUAL_CARD must be off in live mode (test ID-cards).",
                id="smartid.E701",
            )
        )
    if settings.PORTAL_OCSP_WHEN_UNREACHABLE != "fail-closed":
        errors.append(
            CheckWarning(
                "ID-card logins are accepted without a revocation check when OCSP is down.",
                hint="SMARTID_PORTAL_OCSP_WHEN_UNREACHABLE=fail-closed",
                id="smartid.W702",
            )
        )
    return errors


@register(TAG)
def emrtd_trust_store_check(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    """In live mode the CSCA trust store must be readable and hold no synthetic test CSCA:
    its private key sits next to the demo, so trusting it would let anyone mint passports.
    """
    if not settings.IS_LIVE:
        return []
    try:
        store = CscaTrustStore.from_path(settings.EMRTD_CSCA_PATH)
    except (EmrtdError, OSError) as exc:
        return [Error(f"EMRTD_CSCA_PATH cannot be read: {exc}", id="smartid.E801")]
    warnings: list[CheckMessage] = []
    if store.skipped:
        warnings.append(
            CheckWarning(
                f"{len(store.skipped)} certificate(s) of the eMRTD master lists were left out.",
                hint="; ".join(f"{s.source} #{s.index}: {s.reason}" for s in store.skipped[:5]),
                id="smartid.W803",
            )
        )
    for cert in store:
        names = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
        if any(attr.value == TEST_MARKER for attr in names):
            return [
                Error(
                    "The eMRTD trust store contains the synthetic test CSCA.",
                    hint=f"Remove {cert.subject.rfc4514_string()} from EMRTD_CSCA_PATH.",
                    id="smartid.E802",
                ),
                *warnings,
            ]
    return warnings


@register(TAG)
def metrics_check(app_configs: Sequence[AppConfig] | None, **kwargs: Any) -> list[CheckMessage]:
    """The multiprocess folder of the metrics exists and is writable (prometheus-client
    would otherwise fail at the first count, inside a request), and the /metrics access
    list is a list of networks."""
    errors: list[CheckMessage] = []
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder and not (Path(folder).is_dir() and os.access(folder, os.W_OK | os.X_OK)):
        errors.append(
            Error(
                f"PROMETHEUS_MULTIPROC_DIR {folder!r} is not a writable folder.",
                hint="Create it (empty) before the service starts; see docs/operations.md.",
                id="smartid.E020",
            )
        )
    for item in settings.METRICS_ALLOWED_NETWORKS:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            errors.append(
                Error(f"SMARTID_METRICS_ALLOWED: not a network: {item!r}", id="smartid.E021")
            )
    return errors
