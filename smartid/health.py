"""Health endpoints: liveness, readiness and the combined ``/health`` of old.

* ``/health/live`` — the process answers HTTP; no dependency is asked. A failing
  liveness probe means: restart the process.
* ``/health/ready`` — every dependency this node needs to serve: the database, Redis,
  the key store, the Celery broker, fresh CRLs and exactly one beat. A failing readiness
  probe means: send no traffic here; the body names each failing check and why.
* ``/health`` — the database and Redis only (what the demo, the benchmarks and existing
  probes use); unchanged.

Each check answers ``"ok"``, ``"not used"`` (this configuration does not need it) or the
reason it failed; any reason makes the answer 503.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

import redis
from django.conf import settings
from django.db import connection
from django.db.utils import Error as DatabaseError
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from pki.keystore import KeyStoreError, get_keystore
from pki.models import CertificateAuthority, RevocationList
from smartid import beat

logger = logging.getLogger(__name__)

OK = "ok"
NOT_USED = "not used"
_PROBE = b"smartid:health:probe"


def check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            row = cursor.fetchone()
        return OK if row is not None and tuple(row) == (1,) else "unexpected answer to SELECT 1"
    except DatabaseError as exc:
        logger.exception("health: database unreachable")
        return f"unavailable: {type(exc).__name__}"


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)


def check_redis() -> str:
    if not settings.REDIS_URL:
        return NOT_USED
    client = _redis(settings.REDIS_URL)
    try:
        return OK if client.ping() else "no answer to PING"
    except redis.RedisError as exc:
        logger.warning("health: redis unreachable: %s", exc)
        return f"unavailable: {type(exc).__name__}"
    finally:
        client.close()


def check_keystore() -> str:
    """Every CA key is in the store, and the store wraps and unwraps (the KEK is there)."""
    try:
        store = get_keystore()
        for label in CertificateAuthority.objects.values_list("key_label", flat=True):
            if not store.has_key(label):
                return f"the CA key {label!r} is missing from the key store"
        if store.unwrap(store.wrap(_PROBE, context=_PROBE), context=_PROBE) != _PROBE:
            return "wrap and unwrap disagree"
    except KeyStoreError as exc:
        return f"unavailable: {exc}"
    except DatabaseError as exc:
        return f"unavailable: the CA list could not be read ({type(exc).__name__})"
    return OK


def _eager() -> bool:
    """Whether this process runs tasks in-process (the Celery app's own setting, which
    the settings' CELERY_TASK_ALWAYS_EAGER configured)."""
    from smartid.celery import app

    return bool(app.conf.task_always_eager)


def check_broker() -> str:
    """The Celery broker accepts a connection (tasks run in-process when eager)."""
    if _eager():
        return NOT_USED
    from smartid.celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=1)
    except Exception as exc:  # kombu raises its transports' own errors
        logger.warning("health: broker unreachable: %s", exc)
        return f"unavailable: {type(exc).__name__}"
    return OK


def check_crls() -> str:
    """Every CA has a published CRL that stays valid for the margin to come."""
    margin = timedelta(minutes=settings.CRL_FRESH_MARGIN_MINUTES)
    try:
        cas = list(CertificateAuthority.objects.only("slug"))
        if not cas:
            return "no certification authority (run manage.py init_ca)"
        latest = {
            ca.slug: RevocationList.objects.filter(issuer=ca)
            .order_by("-number")
            .only("next_update")
            .first()
            for ca in cas
        }
    except DatabaseError as exc:
        return f"unavailable: {type(exc).__name__}"
    deadline = timezone.now() + margin
    for slug, crl in latest.items():
        if crl is None:
            return f"no CRL published for {slug}"
        if crl.next_update <= deadline:
            return f"the CRL of {slug} expires at {crl.next_update.isoformat()}"
    return OK


def check_beat() -> str:
    """Exactly one ``celery beat`` renews its heartbeat (smartid.beat)."""
    if _eager() or not settings.REDIS_URL:
        return NOT_USED
    client = _redis(settings.REDIS_URL)
    try:
        conflict = client.get(beat.CONFLICT_KEY)
        if conflict is not None:
            text = conflict.decode(errors="replace") if isinstance(conflict, bytes) else conflict
            return f"more than one beat: {text}"
        if client.get(beat.HEARTBEAT_KEY) is None:
            return "no beat heartbeat (is exactly one `celery -A smartid beat` running?)"
    except redis.RedisError as exc:
        return f"unavailable: {type(exc).__name__}"
    finally:
        client.close()
    return OK


#: The readiness checks, in the order they are reported.
READINESS_CHECKS: dict[str, Callable[[], str]] = {
    "database": check_database,
    "redis": check_redis,
    "keystore": check_keystore,
    "broker": check_broker,
    "crl": check_crls,
    "beat": check_beat,
}


def _answer(checks: dict[str, str]) -> JsonResponse:
    healthy = all(value in (OK, NOT_USED) for value in checks.values())
    if not healthy:
        failing = {k: v for k, v in checks.items() if v not in (OK, NOT_USED)}
        logger.warning("not ready: %s", failing)
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


@csrf_exempt  # no session, no state: a wrong method must get 405, not a CSRF 403
@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    """``/health``: 200 when the database (and Redis, if used) answer."""
    database = check_database()
    redis_status = check_redis()
    checks = {
        "database": OK if database == OK else "unavailable",
        "redis": {OK: OK, NOT_USED: "not configured"}.get(redis_status, "unavailable"),
    }
    healthy = checks["database"] == OK and checks["redis"] != "unavailable"
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )


@csrf_exempt
@never_cache
@require_safe
def live(request: HttpRequest) -> JsonResponse:
    """``/health/live``: the process serves requests (no dependency is asked)."""
    return JsonResponse({"status": "ok"})


@csrf_exempt
@never_cache
@require_safe
def ready(request: HttpRequest) -> JsonResponse:
    """``/health/ready``: every readiness check, 503 with the reasons if one fails."""
    return _answer({name: check() for name, check in READINESS_CHECKS.items()})
