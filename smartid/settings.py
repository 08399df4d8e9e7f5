"""Settings of the platform: environment variables only, safe defaults, fail closed.

``SMARTID_ENV`` selects the mode:

* ``dev`` / ``demo`` / ``test`` — the embedded defaults work with no services:
  SQLite, Celery in eager mode, an in-process event bus and a key-encryption
  key in a local file. PostgreSQL and Redis are used when ``DATABASE_URL`` and
  ``REDIS_URL`` are set (CI does this).
* ``live`` — production. A missing secret key is an error here; SQLite, eager
  tasks, the file key store, ``DEBUG`` and the development secret key are
  refused by the system checks in ``smartid/checks.py``, which also run when the
  ASGI/WSGI application and the Celery app load.

Every variable is listed in ``.env.example``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from kombu import Queue

from core.redisclient import client_options
from smartid.env import (
    ENVIRONMENTS,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent

SMARTID_ENV = env_choice("SMARTID_ENV", ENVIRONMENTS, "dev")
IS_LIVE = SMARTID_ENV == "live"

# Local state of the embedded mode (SQLite file, key-encryption key file).
DATA_DIR = Path(env_str("SMARTID_DATA_DIR", str(BASE_DIR / "var"))).resolve()

# A fixed key for dev/demo/test only; live refuses to start with it (checks.py).
DEV_SECRET_KEY = "dev-insecure-3c9f0e7a-never-use-in-live"  # noqa: S105 -- refused in live
SECRET_KEY = env_secret("SECRET_KEY")
if not SECRET_KEY:
    if IS_LIVE:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required in live mode.")
    SECRET_KEY = DEV_SECRET_KEY

DEBUG = env_bool("SMARTID_DEBUG", SMARTID_ENV == "dev")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if IS_LIVE else ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Public base URL of this service, used in certificates (AIA, CRL DP) and links.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:" + env_str("PORT", "8000")).rstrip("/")
# RP API v3: the deviceLinkBase relying parties build device links (QR codes, Web2App and
# App2App links) on. Default: this service's own /device-link, so a link never names
# another operator's domain; SK's service answers https://smart-id.com/device-link.
RP_V3_DEVICE_LINK_BASE = env_str("SMARTID_RP_V3_DEVICE_LINK_BASE", SITE_URL + "/device-link")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "smartid",
    "audit",
    "accounts",
    "pki",
    "signing",
    "enrolment",
    "api.rp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "ra_office",
    "portal",
]
if not IS_LIVE:  # the demo and the test doubles of the outside world (refused in live)
    INSTALLED_APPS += ["demo", "demo.rp"]

MIDDLEWARE = [
    # First: the request id is bound before anything logs, and the latency covers the rest.
    "smartid.middleware.ObservabilityMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "smartid.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "smartid.middleware.PageLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, so it sees the view's exception first: PostgreSQL or Redis down -> 503.
    "smartid.middleware.ServiceUnavailableMiddleware",
]

ROOT_URLCONF = "smartid.urls"
ASGI_APPLICATION = "smartid.asgi.application"
WSGI_APPLICATION = "smartid.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}")
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        # 0 = a connection per request: persistent connections are per thread and
        # leak under ASGI, where sync code runs in executor threads (Django docs).
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0, minimum=0),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A connection pool (psycopg_pool): async views read from thread-pool threads, and
    # with CONN_MAX_AGE=0 each read gives its connection back to the pool instead of
    # opening a new one (1,000 woken long polls: 0.5 s instead of 15 s).
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 2,
        "max_size": env_int("DATABASE_POOL_SIZE", 20, minimum=2),
        "timeout": 10,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # required with the pool
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Waiting for the write lock beats "database is locked" under the ASGI server;
    # IMMEDIATE takes it at BEGIN, so a read-then-write transaction cannot deadlock
    # with another one (SQLite would fail it at once, whatever the timeout).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "transaction_mode": "IMMEDIATE",
            # Readers never wait for the writer (the demo's devices poll while others sign).
            "init_command": "PRAGMA journal_mode=WAL;",
        }
    )
    # Tests run the ASGI server in threads of the test process: a file database honours
    # the lock timeout, where the default shared-cache memory database fails at once.
    # One per test process, so two runs at once never share it.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
    # Opening a SQLite file costs more CPU than a whole query (0.75 ms: the schema is
    # parsed again), and the embedded mode has no pool: keep connections a minute. They
    # are per thread; a thread that ends closes its own (docs/performance.md).
    if "DATABASE_CONN_MAX_AGE" not in os.environ:
        DATABASES["default"]["CONN_MAX_AGE"] = 60
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, Celery, event bus -----------------------------------------------
REDIS_URL = env_str("REDIS_URL")
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
# No broker means the embedded mode: tasks run in-process at once. With a broker,
# SMARTID_CELERY_EAGER=true still runs them in-process (tests without a worker).
CELERY_TASK_ALWAYS_EAGER = env_bool("SMARTID_CELERY_EAGER", not CELERY_BROKER_URL)
if not CELERY_BROKER_URL:
    # Eager tasks still borrow a producer from the broker's pool; kombu's in-memory
    # transport is one that needs no server (and logs no "No hostname was supplied").
    CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
# A killed worker must not lose its task: ack after the work, redeliver on loss.
# Tasks are idempotent (docs/design.md §6), so a redelivery never does the work twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 300, minimum=10),
    # Look for a dead worker's unacknowledged tasks every 5 s (one cheap ZRANGE) instead
    # of kombu's default 10 s x 10 calls, so they come back soon after the timeout.
    "unacked_restore_interval": 5,
    "unacked_restore_throttle": 1,
}
# Django's LOGGING (JSON lines with request ids) stays in charge of the worker's logs.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Beat keeps a heartbeat in Redis and refuses to be the second beat (smartid/beat.py).
CELERY_BEAT_SCHEDULER = "smartid.beat:HeartbeatScheduler"
# Test hook: the process SIGKILLs itself at this fault point (``core.faults``), e.g.
# "issuance:after-sign" in the worker-kill test. Empty in every real deployment; refused
# in live (smartid.E009).
FAULT_KILL_AT = env_str("SMARTID_FAULT_KILL_AT")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
# Queues, so that one kind of work never waits behind another (deploy/ runs a worker per
# queue with -Q): "issuance" makes keys and certificates (CPU-bound: key-pool refills),
# "biometrics" the onboarding checks, "housekeeping" the periodic chores (CRLs, overdue
# transactions, onboarding and account expiry); anything unrouted goes to "celery". A worker started
# without -Q serves all four (the declared queues), as in a one-machine setup.
CELERY_TASK_QUEUES = tuple(
    Queue(name) for name in ("issuance", "biometrics", "housekeeping", "celery")
)
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {
    "signing.tasks.fill_key_pool": {"queue": "issuance"},
    "signing.tasks.issue_certificates": {"queue": "issuance"},
    "signing.tasks.complete_renewal": {"queue": "issuance"},
    "pki.tasks.revoke_certificate": {"queue": "issuance"},
    "signing.tasks.resume_issuance": {"queue": "housekeeping"},
    "enrolment.tasks.onboarding_process": {"queue": "biometrics"},
    "enrolment.tasks.onboarding_housekeeping": {"queue": "housekeeping"},
    "signing.tasks.expire_transactions": {"queue": "housekeeping"},
    "signing.tasks.account_expiry_housekeeping": {"queue": "housekeeping"},
    "pki.tasks.publish_crl": {"queue": "housekeeping"},
    "pki.tasks.publish_all_crls": {"queue": "housekeeping"},
    "api.rp.tasks.aggregate_rp_usage": {"queue": "housekeeping"},
    "api.rp.tasks.purge_rp_sessions": {"queue": "housekeeping"},
    "accounts.tasks.flush_devices_seen": {"queue": "housekeeping"},
}
CELERY_BEAT_SCHEDULE = {
    "publish-crls": {"task": "pki.tasks.publish_all_crls", "schedule": 3600.0},
    "fill-key-pool": {"task": "signing.tasks.fill_key_pool", "schedule": 60.0},
    "expire-transactions": {"task": "signing.tasks.expire_transactions", "schedule": 5.0},
    "account-expiry": {"task": "signing.tasks.account_expiry_housekeeping", "schedule": 3600.0},
    "resume-issuance": {"task": "signing.tasks.resume_issuance", "schedule": 60.0},
    "rp-usage": {"task": "api.rp.tasks.aggregate_rp_usage", "schedule": 3600.0},
    "rp-session-purge": {"task": "api.rp.tasks.purge_rp_sessions", "schedule": 86400.0},
    # Devices' "last seen" from Redis into their rows (accounts/seen.py).
    "devices-seen-flush": {"task": "accounts.tasks.flush_devices_seen", "schedule": 60.0},
    "onboarding-housekeeping": {
        "task": "enrolment.tasks.onboarding_housekeeping",
        "schedule": 600.0,
    },
}

# How long a request waits for Redis (cache, event bus publisher) before it gives up: a
# Redis that stops answering (frozen, partitioned) must cost a request a quick 503, never
# a hang; after a timeout the process leaves Redis alone for a second (core/redisclient.py,
# docs/deployment.md "Multi-node test"). redis-py's default would retry three times with
# back-off: 8 s and more per call.
REDIS_TIMEOUT = env_float("SMARTID_REDIS_TIMEOUT", 0.5, minimum=0.05, maximum=30.0)
REDIS_CLIENT_OPTIONS = client_options(REDIS_URL, timeout=REDIS_TIMEOUT)

# Shared cache (OCSP responses, idempotency keys): Redis when configured, so every
# process sees the same entries; a process-local cache in the embedded mode.
CACHES = {
    "default": (
        {
            # Django's RedisCache with one connection pool per process.
            "BACKEND": "core.redisclient.SharedRedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": REDIS_CLIENT_OPTIONS,
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

# --- Key protection ---------------------------------------------------------
# "file": a key-encryption key in a local file (embedded default only).
# "pkcs11": the key-encryption key and CA keys live in a PKCS#11 token.
KEYSTORE_BACKEND = env_choice("SMARTID_KEYSTORE", ("file", "pkcs11"), "file")
KEYSTORE_KEK_FILE = Path(env_str("SMARTID_KEK_FILE", str(DATA_DIR / "kek.bin")))
PKCS11_MODULE = env_str("SMARTID_PKCS11_MODULE", "/usr/lib/softhsm/libsofthsm2.so")
PKCS11_TOKEN_LABEL = env_str("SMARTID_PKCS11_TOKEN_LABEL", "smartid")
PKCS11_PIN = env_secret("SMARTID_PKCS11_PIN")

# --- Certification authority --------------------------------------------------
# Names of the CA hierarchy; outside live every CA name starts with "TEST of ".
CA_ORGANIZATION = env_str("SMARTID_CA_ORGANIZATION", "Open eID")
CA_COUNTRY = env_str("SMARTID_CA_COUNTRY", "EE")
# The PKI disclosure statement named in qualified certificates (must be https);
# default: https://<SITE_URL host>/pds/en.
PDS_URL = env_str("SMARTID_PDS_URL")
# Validity of end-entity certificates (accounts are valid for 3 years).
CERTIFICATE_VALIDITY_DAYS = env_int("SMARTID_CERTIFICATE_VALIDITY_DAYS", 1095, minimum=1)
# Days before an account's certificates expire on which its owner is told (e-mail and
# the app's account status); each notice is sent once per validity period.
EXPIRY_NOTICE_DAYS = sorted(
    {int(d) for d in env_list("SMARTID_EXPIRY_NOTICE_DAYS", ["30", "7", "1"]) if d.isdigit()},
    reverse=True,
)
# A registration left PENDING this long (the app never signed its certificate requests)
# is closed by the housekeeping task; its server key halves are destroyed.
REGISTRATION_PENDING_HOURS = env_int(
    "SMARTID_REGISTRATION_PENDING_HOURS", 24, minimum=1, maximum=30 * 24
)
# How long a CRL is valid; a periodic task publishes a new one well before.
CRL_VALIDITY_HOURS = env_int("SMARTID_CRL_VALIDITY_HOURS", 24, minimum=1)
# Validity of a signed OCSP response (CA/B BR: 8 h .. 10 days).
OCSP_VALIDITY_HOURS = env_int("SMARTID_OCSP_VALIDITY_HOURS", 12, minimum=1)

# --- Split-key parameters -----------------------------------------------------
# Bits of each modulus half (n1 of the app, n2 of the server); n has 2L-1 or 2L bits.
SPLITKEY_BITS = env_int("SMARTID_SPLITKEY_BITS", 3072, minimum=1024, maximum=4096)
# Pre-generated server halves kept in the pool (a periodic task refills it).
KEY_POOL_SIZE = env_int("SMARTID_KEY_POOL_SIZE", 8, minimum=0, maximum=10000)

# --- Web security -------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# Secure cookies everywhere: browsers treat http://127.0.0.1 and localhost as secure
# contexts, so the demo and the browser tests work with them. Turning them off is for
# a plain-HTTP development host only; live refuses it (checks.py).
SESSION_COOKIE_SECURE = env_bool("SMARTID_SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
# Web sessions (portal, RA office) end with the browser; the RA office also ends them
# after 15 idle minutes, the portal after its own idle limit.
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_AGE = 8 * 3600
# Our pages load scripts and styles from our own origin only (smartid/middleware.py).
CONTENT_SECURITY_POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if IS_LIVE:
    # TLS ends at the reverse proxy (deploy/), which sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, minimum=0)

# Reverse proxies whose X-Forwarded-For is believed (CIDR list). Empty: none.
TRUSTED_PROXIES = env_list("SMARTID_TRUSTED_PROXIES", [])
# Rate limits (core/ratelimit.py; counted in Redis, so across all nodes): session starts per
# relying party and second (a relying party's own value in the admin overrides it), and
# logins per client address and minute on the portal and the RA office.
RP_STARTS_PER_SECOND = env_int("SMARTID_RP_STARTS_PER_SECOND", 50, minimum=1, maximum=100000)
LOGINS_PER_ADDRESS_MINUTE = env_int("SMARTID_LOGINS_PER_ADDRESS_MINUTE", 30, minimum=1)
# The prefix of the platform's short-lived entries in the shared cache (rate-limit
# counters, idempotency fingerprints); another value starts them all afresh (the tests
# take a fresh one per test, so one test's logins never count against the next's).
CACHE_NAMESPACE = "smartid"
# Overload (smartid/admission.py): requests of one web process inside Django at once, and
# how long a request may wait for a place before it is answered 503 (0 = no limit).
MAX_CONCURRENT_REQUESTS = env_int("SMARTID_MAX_CONCURRENT_REQUESTS", 16, minimum=0)
ADMISSION_WAIT_MS = env_int("SMARTID_ADMISSION_WAIT_MS", 250, minimum=0, maximum=10000)
# RP sessions and their transactions are kept this long, then purged once counted into the
# monthly usage (api/rp/metering.py); whole months only. 400 days: a year of statements can
# be recomputed from the sessions themselves.
RP_SESSION_RETENTION_DAYS = env_int("SMARTID_RP_SESSION_RETENTION_DAYS", 400, minimum=31)
# Answer every RP API call with 580 (planned maintenance).
RP_API_MAINTENANCE = env_bool("SMARTID_RP_API_MAINTENANCE", False)
# RP API v3: how far a QR code's elapsedSeconds may be from the time since the session was
# created (the RP refreshes the code every second; the app needs a moment to send it).
RP_V3_QR_WINDOW_SECONDS = env_int("SMARTID_RP_V3_QR_WINDOW_SECONDS", 10, minimum=1, maximum=120)

# Request size limits (docs/design.md §6): API bodies are small JSON documents.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.SafeJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
}

# Remote registration (the portal, remote onboarding) of people under this age is refused:
# under 18 the RA office needs a legal representative's consent in person. Lower it only
# where the law lets minors of that age hold an eID on their own.
REMOTE_REGISTRATION_MIN_AGE = env_int(
    "SMARTID_REMOTE_REGISTRATION_MIN_AGE", 18, minimum=14, maximum=18
)

# --- RA office (ra_office/) -------------------------------------------------------
# Officers are logged out after this many idle seconds (15 minutes).
RA_IDLE_TIMEOUT_SECONDS = env_int("RA_IDLE_TIMEOUT_SECONDS", 900, minimum=60, maximum=8 * 3600)
# Wrong passwords or TOTP codes in a row, per user name + client address, before the
# lock-out, and for how long (ra_office/throttle.py; the delays before it grow 1, 2, 4 … s).
RA_MAX_FAILED_LOGINS = env_int("RA_MAX_FAILED_LOGINS", 5, minimum=1, maximum=100)
RA_LOCKOUT_MINUTES = env_int("RA_LOCKOUT_MINUTES", 30, minimum=1, maximum=7 * 24 * 60)
# How long a printed RA ticket may wait for its signed paper and its redemption.
RA_TICKET_TTL_HOURS = env_int("RA_TICKET_TTL_HOURS", 24, minimum=1, maximum=30 * 24)
# Largest scan of the signed application paper that an officer may upload.
RA_MAX_SCAN_BYTES = env_int("RA_MAX_SCAN_BYTES", 5 * 1024 * 1024, minimum=1024)
# The population registry adapter (enrolment/registry.py); default: the local table.
RA_POPULATION_REGISTRY = env_str("RA_POPULATION_REGISTRY", "enrolment.registry.LocalRegistry")
# The issuer shown in officers' authenticator apps.
OTP_TOTP_ISSUER = env_str("RA_TOTP_ISSUER", "Open eID RA office")

# django-otp's admin must never show TOTP secrets (ra_office/admin.py also removes it).
OTP_ADMIN_HIDE_SENSITIVE_DATA = True

# --- Self-service portal and Web eID (portal/) -----------------------------------
# The site origin the ID-card signs (scheme://host[:port]); default: from SITE_URL.
PORTAL_ORIGIN = env_str("SMARTID_PORTAL_ORIGIN")
# Folder of the trusted issuing ID-card CA certificates (PEM or DER, *.pem/*.crt/*.cer).
PORTAL_TRUSTED_CA_DIR = Path(
    env_str("SMARTID_PORTAL_TRUSTED_CA_DIR", str(DATA_DIR / "trusted-id-card-cas"))
)
# OCSP for ID-card certificates: a designated responder instead of the certificates'
# AIA address (empty = AIA), the timeout, and what to do when it cannot be reached.
PORTAL_OCSP_URL = env_str("SMARTID_PORTAL_OCSP_URL")
PORTAL_OCSP_TIMEOUT = env_int("SMARTID_PORTAL_OCSP_TIMEOUT", 5, minimum=1, maximum=60)
PORTAL_OCSP_WHEN_UNREACHABLE = env_choice(
    "SMARTID_PORTAL_OCSP_WHEN_UNREACHABLE", ("fail-closed", "allow"), "fail-closed"
)
# Certificate policy OIDs refused at login (default: the Estonian Mobile-ID policies).
PORTAL_DISALLOWED_POLICIES = env_list("SMARTID_PORTAL_DISALLOWED_POLICIES", [])
# The test ID-card CA and virtual cards (tests, demo); refused in live (checks.py).
PORTAL_VIRTUAL_CARD = env_bool("SMARTID_PORTAL_VIRTUAL_CARD", not IS_LIVE)
# TLS client-certificate login: the header the reverse proxy fills with the URL-encoded
# PEM ($ssl_client_escaped_cert); believed only from SMARTID_TRUSTED_PROXIES peers.
PORTAL_CLIENT_CERT_HEADER = env_str("SMARTID_PORTAL_CLIENT_CERT_HEADER", "X-SSL-Client-Cert")
# A portal session ends after this many idle minutes.
PORTAL_IDLE_MINUTES = env_int("SMARTID_PORTAL_IDLE_MINUTES", 15, minimum=1, maximum=480)

# --- Remote onboarding: eMRTD, face, liveness, Mobile-ID, secondary auth (enrolment/) ---

# eMRTD
# CSCA trust store for passive authentication: a folder of PEM/DER certificates and ICAO
# master lists (.ml), or one such file. A missing folder trusts nobody (docs/emrtd.md).
EMRTD_CSCA_PATH = Path(env_str("EMRTD_CSCA_PATH", str(DATA_DIR / "csca")))
# Where `manage.py make_passport` keeps the synthetic test CSCA's keys (never in live).
EMRTD_TEST_CSCA_DIR = Path(env_str("EMRTD_TEST_CSCA_DIR", str(DATA_DIR / "emrtd-test-csca")))

# Face and liveness (enrolment/biometrics, docs/biometrics.md)
# Largest encoding distance between the DG2 portrait and the selfie that still matches
# (face_recognition's customary 0.6 is looser; 0.5 is chosen from docs/biometrics.md).
FACE_MATCH_THRESHOLD = env_float("FACE_MATCH_THRESHOLD", 0.5, minimum=0.2, maximum=0.7)
# Seconds between issuing a liveness challenge and its deadline.
LIVENESS_DEADLINE_SECONDS = env_int("LIVENESS_DEADLINE_SECONDS", 120, minimum=10, maximum=600)
# Byte and pixel caps of every uploaded or chip image (checked before decoding).
IMAGE_MAX_BYTES = env_int("IMAGE_MAX_BYTES", 2 * 1024 * 1024, minimum=16_384, maximum=20_971_520)
IMAGE_MAX_PIXELS = env_int("IMAGE_MAX_PIXELS", 16_000_000, minimum=100_000, maximum=40_000_000)
# Pixel cap of one selfie frame: face matching works on ≤ 640 px, so 2 Mpx (1600 × 1200)
# is plenty; a larger frame is refused with 413 from its header, before any decoding.
SELFIE_MAX_PIXELS = env_int("SELFIE_MAX_PIXELS", 2_000_000, minimum=100_000, maximum=40_000_000)
# Biometric checks (face + liveness) running at once, per client address and in total
# across every node (slots in the shared cache); one more submission gets 429 / 503.
# A slot a crashed worker never gave back frees itself after BIOMETRIC_SLOT_SECONDS.
BIOMETRIC_CHECKS_PER_ADDRESS = env_int("BIOMETRIC_CHECKS_PER_ADDRESS", 2, minimum=1, maximum=100)
BIOMETRIC_CHECKS_TOTAL = env_int("BIOMETRIC_CHECKS_TOTAL", 8, minimum=1, maximum=1000)
BIOMETRIC_SLOT_SECONDS = env_int("BIOMETRIC_SLOT_SECONDS", 300, minimum=10, maximum=3600)

# Mobile-ID and secondary authentication
# The local Mobile-ID simulator at /mid-api/ (dev, demo, test); live refuses it (checks.py).
MOBILE_ID_SIMULATOR = env_bool("MOBILE_ID_SIMULATOR", not IS_LIVE)
# Base URL of the MID REST API, e.g. https://mid.sk.ee/mid-api; empty = Mobile-ID off.
MOBILE_ID_URL = env_str(
    "MOBILE_ID_URL", SITE_URL + "/mid-api" if MOBILE_ID_SIMULATOR else ""
).rstrip("/")
# Relying party credentials agreed with the Mobile-ID provider (SK's demo pair by default
# outside live; the simulator also accepts that pair).
MOBILE_ID_RELYING_PARTY_UUID = env_secret(
    "MOBILE_ID_RELYING_PARTY_UUID", "" if IS_LIVE else "00000000-0000-0000-0000-000000000000"
)
MOBILE_ID_RELYING_PARTY_NAME = env_str("MOBILE_ID_RELYING_PARTY_NAME", "" if IS_LIVE else "DEMO")
# PEM file of the trusted Mobile-ID issuing CA certificates (the simulator's CA is added
# on its own outside live).
MOBILE_ID_TRUSTED_CA_PATH = env_str("MOBILE_ID_TRUSTED_CA_PATH")
# How long the simulated person takes to answer; 0 in tests.
MOBILE_ID_SIMULATOR_DELAY_MS = env_int(
    "MOBILE_ID_SIMULATOR_DELAY_MS",
    0 if SMARTID_ENV == "test" else 3000,
    minimum=0,
    maximum=60_000,
)
# SMS gateway (dotted path of an enrolment.secondary.SmsGateway class); empty = no SMS.
SMS_BACKEND = env_str(
    "SMS_BACKEND",
    {
        "live": "",
        "test": "enrolment.secondary.LocmemSmsBackend",
    }.get(SMARTID_ENV, "enrolment.secondary.ConsoleSmsBackend"),
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Open eID <noreply@localhost>")
# Console outside live (Django's test runner swaps in locmem); SMTP in live.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if IS_LIVE
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_secret("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 20, minimum=1, maximum=300)
# Folder of the file-based mail backend (EMAIL_BACKEND=...filebased.EmailBackend).
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(DATA_DIR / "mail"))

# Onboarding pipeline (enrolment/onboarding/, docs/onboarding.md)
# A face match closer than this to FACE_MATCH_THRESHOLD goes to the RA office's review queue.
FACE_REVIEW_MARGIN = env_float("FACE_REVIEW_MARGIN", 0.05, minimum=0.0, maximum=0.5)
# Days the evidence (chip files with the face image, selfie frames) is kept after the decision.
BIOMETRIC_RETENTION_DAYS = env_int("BIOMETRIC_RETENTION_DAYS", 30, minimum=0, maximum=3650)
# Days an application may wait in the RA office's review queue before it expires.
REVIEW_MAX_DAYS = env_int("REVIEW_MAX_DAYS", 14, minimum=1, maximum=365)

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("et", "Eesti")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Live: the reverse proxy serves the output of collectstatic (deploy/). Elsewhere the
# ASGI application serves the apps' files itself (smartid/asgi.py).
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")))

# --- Logs and metrics (docs/operations.md) ---------------------------------------------
# "json": one JSON object per line (default in live); "plain": a line for people. Every
# line carries the request id of the web request or Celery task it belongs to.
LOG_FORMAT = env_choice("SMARTID_LOG_FORMAT", ("json", "plain"), "json" if IS_LIVE else "plain")
# One INFO line per request (method, route, status, duration: logger smartid.request) and
# per Celery task (name, state, duration: smartid.tasks).
ACCESS_LOG = env_bool("SMARTID_ACCESS_LOG", IS_LIVE)
# Who may read /metrics: client addresses (CIDR list; loopback by default), and if set, a
# bearer token the scraper must also send (Authorization: Bearer ...).
METRICS_ALLOWED_NETWORKS = env_list("SMARTID_METRICS_ALLOWED", ["127.0.0.1/32", "::1/128"])
METRICS_TOKEN = env_secret("SMARTID_METRICS_TOKEN")
# A Celery worker serves its own /metrics on this loopback port (0 = none): for worker
# hosts whose PROMETHEUS_MULTIPROC_DIR no web process reads.
WORKER_METRICS_PORT = env_int("SMARTID_WORKER_METRICS_PORT", 0, minimum=0, maximum=65535)
# /health/ready: a CRL whose nextUpdate is closer than this many minutes is not fresh.
CRL_FRESH_MARGIN_MINUTES = env_int("SMARTID_CRL_FRESH_MARGIN_MINUTES", 60, minimum=0)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logs.RequestIdFilter"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
        "json": {"()": "core.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Libraries that speak at INFO about their own insides: WeasyPrint and fontTools a
    # dozen lines per PDF (the RA office logs one line of its own), httpx one per outgoing
    # request (Mobile-ID), Celery one per task, which in the embedded mode runs in the
    # request that queued it (smartid.tasks logs one line per task of its own).
    "loggers": {
        **{
            name: {"level": "WARNING"}
            for name in ("weasyprint", "fontTools", "httpx", "celery.app.trace")
        },
        "smartid.request": {"level": "INFO" if ACCESS_LOG else "WARNING"},
        "smartid.tasks": {"level": "INFO" if ACCESS_LOG else "WARNING"},
    },
}
