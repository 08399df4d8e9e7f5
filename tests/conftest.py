"""Fixtures shared by the whole suite (the helpers they build on are plain modules).

* The personas (``tests/personas.py``) as rows: ``alice`` and ``bob`` (persons), ``office``
  (Olga, Sven and Bob the outsider in the RA office), ``rp_a`` and ``rp_b``; their photos
  ``alice_photo`` and ``bob_photo``.
* A live platform: ``asgi_server`` (uvicorn in a thread, ``tests/live.py``), ``platform``
  (with its CA hierarchy, ``tests/helpers/platform.py``), ``answering`` devices.
* ``page``: a Playwright page in Debian's Chromium (never a downloaded browser).
* ``seed`` / ``rng``: the random inputs of a test, reproducible with ``SMARTID_TEST_SEED``
  (printed in the header of every run and under every failing random test); the same
  seed drives Hypothesis unless ``--hypothesis-seed`` is given.
* Every run keeps its key store, CSCA folder, trusted ID-card CAs and mail in temporary
  folders: no test reads what the demo left in ``var/``.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
from collections.abc import Generator, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from django.core.cache import cache
from PIL import Image

from accounts.models import Person
from api.rp.models import RelyingParty
from pki import ocsp, services
from tests import factories
from tests.helpers.answering import Answering
from tests.helpers.images import BOB_SAMPLE, opencv_face
from tests.helpers.images import alice_photo as load_alice_photo
from tests.helpers.platform import KEY_BITS, Platform
from tests.live import CHROMIUM_ARGS, LiveASGIServer
from tests.personas import ALICE, BOB, RP_A, RP_B

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SEED_VARIABLE = "SMARTID_TEST_SEED"
_SEED = pytest.StashKey[int]()


# --- reproducible randomness ----------------------------------------------------------


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Draw (or read) the session seed; Hypothesis uses it too unless told otherwise.

    ``tryfirst``: Hypothesis's plugin reads ``--hypothesis-seed`` in its own
    ``pytest_configure``, which must see the value set here.
    """
    raw = os.environ.get(SEED_VARIABLE, "").strip()
    seed = int(raw) if raw else random.SystemRandom().randrange(2**32)
    config.stash[_SEED] = seed
    if getattr(config.option, "hypothesis_seed", None) is None:
        config.option.hypothesis_seed = str(seed)


def pytest_report_header(config: pytest.Config) -> str:
    return f"random inputs: {SEED_VARIABLE}={config.stash[_SEED]} reproduces them"


def _is_random(item: pytest.Item) -> bool:
    if "seed" in getattr(item, "fixturenames", ()):
        return True
    test = getattr(item, "obj", None)
    return bool(getattr(test, "is_hypothesis_test", False))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, Any, None]:
    """Under a failing random test: the variable that replays its inputs."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if report.failed and _is_random(item):
        seed = item.config.stash[_SEED]
        report.sections.append(
            ("random inputs", f"reproduce with {SEED_VARIABLE}={seed} pytest '{item.nodeid}'")
        )


@pytest.fixture
def seed(request: pytest.FixtureRequest) -> int:
    """This test's seed: derived from the session seed and the test's id (so a test gets
    the same inputs whether it runs alone or in the whole suite)."""
    session = request.config.stash[_SEED]
    digest = hashlib.sha256(f"{session}:{request.node.nodeid}".encode()).digest()
    derived = int.from_bytes(digest[:8], "big")
    request.node.user_properties.append((SEED_VARIABLE, session))
    return derived


@pytest.fixture
def rng(seed: int) -> random.Random:
    """A random generator for test inputs (never for keys the platform relies on)."""
    return random.Random(seed)


# --- the process and its folders ------------------------------------------------------


@pytest.fixture(scope="session", autouse=True)
def _eager_tasks() -> Iterator[None]:
    """Tasks run in the test process, even when REDIS_URL names a broker (CI): no test
    waits for a worker that is not there. The real-worker tests switch this off for
    themselves (tests/enrolment/onboarding/test_worker.py).
    """
    from smartid.celery import app  # the Celery app needs Django's settings: not at import

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


@pytest.fixture(autouse=True)
def _fresh_process_keys() -> Iterator[None]:
    """Every test's database has its own transport key: forget the one this process read
    (signing.keys reads it once per process, as a server would)."""
    from signing import keys

    keys.forget_process_keys()
    yield
    keys.forget_process_keys()


@pytest.fixture(autouse=True)
def _celery_join_allowed() -> Iterator[None]:
    """Celery's eager ``apply_async`` refuses ``EagerResult.get()`` while it runs, with a
    process-wide flag (``celery.result.denied_join_result``) that it sets and then restores
    to the value it found. Two eager tasks in two threads at once (a test's and the live
    server's) can restore each other's value and leave it set for good, after which every
    later ``.get()`` in the process fails ("Never call result.get() within a task!"). No
    task runs between tests: clear it."""
    from celery import _state

    _state._set_task_join_will_block(False)  # type: ignore[attr-defined]  # not in the stubs
    yield


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> Iterator[None]:
    """Every test starts with empty rate-limit counters (core/ratelimit.py) and no
    remembered RP session fingerprints: the suite logs in from 127.0.0.1 far more often than
    a person could, and one test's logins or sessions must not count in the next test."""
    from django.test import override_settings

    with override_settings(CACHE_NAMESPACE=f"test-{os.urandom(8).hex()}"):
        yield


@pytest.fixture(scope="session", autouse=True)
def _isolated_data(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Every test run gets its own key-encryption key and key folder (file key store), and
    empty CSCA, test-CSCA, trusted-CA and mail folders: whatever ``make demo`` or
    ``make_passport`` left in the data folder (``var/``) never changes a result."""
    from django.test import override_settings

    folder = tmp_path_factory.mktemp("data")
    with override_settings(
        KEYSTORE_BACKEND="file",
        KEYSTORE_KEK_FILE=folder / "keystore" / "kek.bin",
        EMRTD_CSCA_PATH=folder / "csca",
        EMRTD_TEST_CSCA_DIR=folder / "emrtd-test-csca",
        PORTAL_TRUSTED_CA_DIR=folder / "trusted-id-card-cas",
        EMAIL_FILE_PATH=str(folder / "mail"),
    ):
        yield


# --- a live platform ------------------------------------------------------------------


@pytest.fixture
def asgi_server(transactional_db: None) -> Iterator[LiveASGIServer]:
    server = LiveASGIServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def ca_hierarchy(db: None) -> Iterator[list[Any]]:
    """The root, EID-Q and EID-NQ CAs (with OCSP responders) in the file key store."""
    ocsp.reset_issuer_index()
    hierarchy = services.ca_hierarchy_create(actor="test")
    yield hierarchy
    ocsp.reset_issuer_index()


@pytest.fixture
def platform(asgi_server: LiveASGIServer, settings: Any) -> Iterator[Platform]:
    """The live server with its CA hierarchy; ``platform.registered()`` gives Alice a device."""
    settings.SPLITKEY_BITS = KEY_BITS
    settings.SITE_URL = asgi_server.url
    ocsp.reset_issuer_index()
    hierarchy = services.ca_hierarchy_create(actor="test", base_url=asgi_server.url)
    platform = Platform(asgi_server, hierarchy)
    yield platform
    for client in platform.clients:
        client.close()
    ocsp.reset_issuer_index()


@pytest.fixture
def answering() -> Iterator[Answering]:
    devices = Answering()
    yield devices
    devices.close()


# --- the personas -------------------------------------------------------------------


@pytest.fixture
def alice(db: None) -> Person:
    return factories.person(ALICE)


@pytest.fixture
def bob(db: None) -> Person:
    return factories.person(BOB)


@pytest.fixture
def office(db: None, settings: Any) -> factories.Office:
    # The RA login throttle counts in the cache (ra_office/throttle.py), which outlives a
    # test; a fresh office remembers no failed logins.
    cache.clear()
    return factories.office(settings)


@pytest.fixture
def rp_a(db: None) -> RelyingParty:
    return factories.relying_party(RP_A)


@pytest.fixture
def rp_b(db: None) -> RelyingParty:
    return factories.relying_party(RP_B)


@pytest.fixture(scope="session")
def alice_photo() -> Image.Image:
    """Eileen Collins (scikit-image's ``astronaut``) plays Alice."""
    return load_alice_photo()


@pytest.fixture(scope="session")
def bob_photo() -> Image.Image:
    """The man in OpenCV's ``basketball1.png`` plays Bob."""
    return opencv_face(*BOB_SAMPLE)


# --- a browser ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, driven by Playwright (one per test module)."""
    executable = shutil.which("chromium")
    if executable is None:
        message = "Debian's chromium package is not installed"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    # Playwright is heavy and only the browser tests need it.
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread; the ORM calls
    # the tests make between browser steps are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser: Browser, asgi_server: LiveASGIServer) -> Iterator[Page]:
    """A fresh browser context (no cookies) on the live server, English, downloads on."""
    context = browser.new_context(base_url=asgi_server.url, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()
