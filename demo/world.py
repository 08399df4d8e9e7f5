"""The published demo world (docs/spec/rp-api.md §6): its relying parties and test identities.

``SMARTID_ENV=demo`` serves what SK's demo environment serves, so that a relying party's
developers can run their integration without a phone: the relying party ``DEMO`` with the
UUIDs the client libraries hard-code, and every test identity of SK's table, each with an
account on a virtual device that answers on its own with the documented outcome
(:mod:`demo.autoresponder`). OK answers are real split-key signatures, and the
certificates are real certificates of the platform's TEST CA.

:data:`DEMO_IDENTITIES` is the table, the one place it exists; docs/demo.md shows it.
:func:`demo_populate` builds the world. It registers every virtual device through the
real app API (docs/app-api.md), in process: a :class:`~device.app.DeviceApp` talks to
Django's WSGI handler over ``httpx.WSGITransport``, so no server has to run yet.

**A departure from the layering rule** (docs/design.md §2: a domain app never imports an
interface app): this module creates ``api.rp`` relying parties and drives the app API
through the WSGI handler. It is the demo's composition root, used only by the
``demo_setup`` command and the tests; nothing else in ``enrolment`` imports it.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Protocol

import httpx
from django.conf import settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction

from accounts.identifiers import derive_date_of_birth
from accounts.models import Account
from accounts.services import person_get_or_create
from api.rp.models import RelyingParty
from audit.services import audit_record
from core.errors import DomainError
from demo.autoresponder import DEMO_PIN1, DEMO_PIN2, OUTCOMES
from demo.rp import DEMO_RP_NAME, DEMO_RP_UUID
from device.app import DeviceApp
from device.errors import DeviceError, StateError
from device.state import FileStore
from enrolment.models import RegistrationTicket
from enrolment.services import ticket_create
from pki import services as pki
from signing import keys
from signing.engine import DEFAULT_KDF, KdfParams

ACTOR = "demo_setup"
SURNAME = "TESTNUMBER"
#: The document number suffix of the demo accounts (``PNOEE-40504040001-MOCK-Q``), and of
#: a person's second account (``-DEMO-Q``), as on SK's demo.
SUFFIXES = ("MOCK", "DEMO")
DEVICE_PLATFORM = "demo-autoresponder"


class ProgressCallback(Protocol):
    """Where ``demo_populate`` says what it does. A ``transient`` message is a step of a
    count ("12/50") that the next one replaces: a terminal shows it in place."""

    def __call__(self, message: str, *, transient: bool = False) -> None: ...


class DemoError(DomainError):
    code = "demo_error"


# --- the relying parties ---------------------------------------------------------------


@dataclass(frozen=True)
class DemoRelyingParty:
    uuid: str
    name: str
    display_name: str
    note: str
    #: SK's demo answers ADVANCED with 403 for the DEMO UUIDs but serves the PHP
    #: client's (docs/spec/rp-api.md §6).
    allow_advanced: bool = False
    #: The source addresses it may call from (CIDR); SK's demo RPs: any.
    allowed_networks: tuple[str, ...] = ("0.0.0.0/0", "::/0")


DEMO_RELYING_PARTIES: tuple[DemoRelyingParty, ...] = (
    DemoRelyingParty(
        "00000000-0000-0000-0000-000000000000", "DEMO", "Demo bank", "v1/v2 clients (until 2025)"
    ),
    DemoRelyingParty(
        "00000000-0000-4000-8000-000000000000", "DEMO", "Demo bank", "v3 clients (since 2025)"
    ),
    DemoRelyingParty(
        "55555555-0000-0000-0000-000000000000",
        "DEMO PHP client",
        "Demo bank",
        "smart-id-php-client 2.x",
        allow_advanced=True,
    ),
    # Our own demo relying party (demo/rp/, /demo-rp/): served by this very process, so it
    # calls from the loopback only.
    DemoRelyingParty(
        DEMO_RP_UUID,
        DEMO_RP_NAME,
        "Demo e-service",
        "the demo relying party at /demo-rp/ (demo/rp/)",
        allowed_networks=("127.0.0.1/32", "::1/128"),
    ),
)


# --- the identities --------------------------------------------------------------------


@dataclass(frozen=True)
class DemoIdentity:
    """One demo account: a person's identifier, the outcome its device answers with, and
    which of the person's accounts it is (0: ``-MOCK-``, 1: ``-DEMO-``)."""

    semantics_identifier: str
    outcome: str
    note: str
    level: str = Account.Level.QUALIFIED
    account_index: int = 0
    date_of_birth: date | None = None
    given_name: str = ""
    surname: str = SURNAME

    @property
    def document_suffix(self) -> str:
        return SUFFIXES[self.account_index]

    @property
    def document_number(self) -> str:
        qualified = "Q" if self.level == Account.Level.QUALIFIED else "NQ"
        return f"{self.semantics_identifier}-{self.document_suffix}-{qualified}"

    @property
    def state_name(self) -> str:
        """The state file's name in the state folder: ``PNOLT-30303039816-2.json``."""
        extra = f"-{self.account_index + 1}" if self.account_index else ""
        return f"{self.semantics_identifier}{extra}.json"


@dataclass(frozen=True)
class _Row:
    outcome: str
    identifiers: tuple[str, ...]
    note: str
    level: str = Account.Level.QUALIFIED
    accounts: int = 1
    date_of_birth: date | None = None  # when the code does not carry it


def _ee_lt(code: str) -> tuple[str, str]:
    return f"PNOEE-{code}", f"PNOLT-{code}"


# docs/spec/rp-api.md §6 (SK's test_accounts.adoc), then the older numbers clients hard-code.
_TABLE: tuple[_Row, ...] = (
    _Row(
        "OK",
        (*_ee_lt("40504040001"), "PNOLV-050405-10009", "PNOLV-320000-10003", "PNOBE-05040400032"),
        "OK (EID-Q)",
    ),
    _Row(
        "OK",
        ("PNOLT-40504049999", "PNOLV-050404-19993"),
        "OK, non-qualified (EID-NQ)",
        level=Account.Level.ADVANCED,
    ),
    _Row("OK", (*_ee_lt("50001029996"), "PNOLV-020100-29990"), "OK, adult"),
    _Row("OK", (*_ee_lt("39901012239"), "PNOLV-030303-10215"), "OK, other account"),
    _Row("OK", (*_ee_lt("61101012257"), "PNOLV-010111-23474"), "OK, minor"),
    _Row("OK", ("PNOLV-311299-19993",), "OK, LV date of birth in the code and certificate"),
    _Row(
        "OK",
        ("PNOLV-329999-99901",),
        "OK, LV code without a date; date of birth in the certificate",
        date_of_birth=date(1903, 3, 3),
    ),
    _Row("OK", ("PNOLV-329999-99709",), "OK, LV code without a date; no date of birth"),
    _Row(
        "USER_REFUSED",
        (*_ee_lt("30403039917"), "PNOLV-030403-10016", "PNOBE-00010238349"),
        "refuses",
    ),
    _Row(
        "USER_REFUSED_DISPLAYTEXTANDPIN",
        (*_ee_lt("30403039928"), "PNOLV-030403-10024"),
        "refuses on the PIN screen (displayTextAndPIN)",
    ),
    _Row(
        "USER_REFUSED_VC_CHOICE",
        (*_ee_lt("30403039939"), "PNOLV-030403-10032"),
        "refuses the verification code choice",
    ),
    _Row(
        "USER_REFUSED_CONFIRMATIONMESSAGE",
        (*_ee_lt("30403039946"), "PNOLV-030403-10040"),
        "refuses the confirmation message",
    ),
    _Row(
        "USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE",
        (*_ee_lt("30403039950"), "PNOLV-030403-10059"),
        "refuses the confirmation message with code choice",
    ),
    _Row(
        "USER_REFUSED_CERT_CHOICE",
        (*_ee_lt("30403039961"), "PNOLV-030403-10067"),
        "refuses the account (certificate) choice",
    ),
    _Row("WRONG_VC", (*_ee_lt("30403039972"), "PNOLV-030403-10075"), "picks a wrong code"),
    _Row("TIMEOUT", (*_ee_lt("30403039983"), "PNOLV-030403-10083"), "never answers"),
    _Row(
        "OK",
        (*_ee_lt("30303039914"), "PNOLV-030303-10012"),
        'legacy "TESTNUMBER,OK" (java 2.3.1, php, django-esteid)',
    ),
    _Row("OK", ("PNOEE-40404049996",), "legacy, date of birth 1904-04-04"),
    # SK's device-link test accounts (the example of its mock service, docs/demo.md).
    _Row(
        "OK",
        (*_ee_lt("40404040009"), "PNOLV-040404-10003", "PNOBE-04040400287"),
        "OK, device-link test account (the mock service's example)",
    ),
    _Row("OK", ("PNOLT-30303039816",), "legacy, two accounts on two devices", accounts=2),
)


def _identities(table: Sequence[_Row]) -> tuple[DemoIdentity, ...]:
    result = []
    for row in table:
        for semantics_identifier in row.identifiers:
            for index in range(row.accounts):
                result.append(
                    DemoIdentity(
                        semantics_identifier=semantics_identifier,
                        outcome=row.outcome,
                        note=row.note,
                        level=row.level,
                        account_index=index,
                        date_of_birth=row.date_of_birth
                        or derive_date_of_birth(semantics_identifier),
                        given_name=row.outcome,
                    )
                )
    return tuple(result)


#: Every demo account, one per virtual device.
DEMO_IDENTITIES: tuple[DemoIdentity, ...] = _identities(_TABLE)
assert {i.outcome for i in DEMO_IDENTITIES} == set(OUTCOMES)


def identity_for_document(document_number: str) -> DemoIdentity | None:
    """The demo identity with this document number (None: not a demo account)."""
    for identity in DEMO_IDENTITIES:
        if identity.document_number == document_number:
            return identity
    return None


# --- building the world ----------------------------------------------------------------


@dataclass
class DemoPopulation:
    """What :func:`demo_populate` did."""

    relying_parties_created: list[str] = field(default_factory=list)
    registered: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    seconds: float = 0.0


def demo_relying_parties_create() -> list[str]:
    """Create the demo relying parties that do not exist yet; returns their UUIDs.

    An existing one is left as it is (an operator may have changed it in the admin).
    """
    created = []
    for demo in DEMO_RELYING_PARTIES:
        with transaction.atomic():
            rp, new = RelyingParty.objects.get_or_create(
                uuid=demo.uuid,
                defaults={
                    "name": demo.name,
                    "display_name": demo.display_name,
                    "allowed_networks": list(demo.allowed_networks),
                    "can_authenticate": True,
                    "can_sign": True,
                    "can_choose_certificate": True,
                    "allow_advanced": demo.allow_advanced,
                    "can_see_device_ip": True,
                    "active": True,
                },
            )
            if new:
                audit_record(
                    actor=ACTOR,
                    action="relying_party.created",
                    object_type="rp.RelyingParty",
                    object_id=rp.pk,
                    data={"uuid": demo.uuid, "name": demo.name},
                )
                created.append(demo.uuid)
    return created


@contextlib.contextmanager
def _eager_issuance() -> Iterator[None]:
    """Certificates issued inside the registration's transaction, broker or not.

    A demo registration is all or nothing (one transaction), so no worker could see its
    keys before the commit, and the app would wait for certificates that come only after
    it gave up. With a broker (the multi-node test's demo data) the issuance task therefore
    runs here, as in the embedded mode (``signing.services.issuance.issuance_enqueue``).
    """
    from smartid.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = saved


@contextlib.contextmanager
def _one_connection() -> Iterator[None]:
    """Let in-process requests run inside the caller's database transaction.

    Django closes the connection when a request starts and ends (``close_old_connections``);
    inside an atomic block that would abort it. Django's own test client disconnects the
    handler the same way.
    """
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@contextlib.contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """No INFO line per in-process request: the progress lines say what happens."""
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


def _registered(identity: DemoIdentity, path: Path) -> bool:
    """True when the state file and the database agree that this account is ready.

    A state file without its account (a run interrupted before the commit) is removed so
    the identity is registered again. An account without its state file can never be
    answered again, and its document number cannot be reused: that is an error.
    """
    account = (
        Account.objects.filter(document_number=identity.document_number)
        .only("state", "device_id")
        .first()
    )
    if path.exists():
        try:
            state = FileStore(path).load()
        except StateError as exc:
            raise DemoError(
                f"{exc}; reset the demo: delete the database and the demo-devices folder."
            ) from None
        record = state.accounts.get(identity.document_number)
        if account is None:
            path.unlink()
            return False
        if (
            record is not None
            and state.device_id == str(account.device_id)
            and account.state == Account.State.ACTIVE
        ):
            return True
        raise DemoError(
            f"{identity.document_number} is {account.state} and does not match {path}; "
            "reset the demo: delete the database and the demo-devices folder."
        )
    if account is not None:
        raise DemoError(
            f"{identity.document_number} exists but its device state {path} is gone; "
            "reset the demo: delete the database and the demo-devices folder."
        )
    return False


def _register(
    identity: DemoIdentity, path: Path, client: httpx.Client, *, bits: int, kdf: KdfParams
) -> None:
    """Person, ticket and a device that registers through the app API: all or nothing."""
    try:
        with _one_connection(), _eager_issuance(), transaction.atomic():
            person = person_get_or_create(
                semantics_identifier=identity.semantics_identifier,
                given_name=identity.given_name,
                surname=identity.surname,
                date_of_birth=identity.date_of_birth,
                actor=ACTOR,
            )
            _, code = ticket_create(
                person=person,
                identity_source=RegistrationTicket.Source.ADMIN,
                level=identity.level,
                created_by=ACTOR,
                document_suffix=identity.document_suffix,
            )
            app = DeviceApp(
                client,
                FileStore(path),
                min_key_bits=bits,
                kdf=kdf,
                platform=DEVICE_PLATFORM,
                name=f"virtual device {path.stem} ({identity.outcome})",
            )
            result = app.register(code, DEMO_PIN1, DEMO_PIN2)
            if result.document_number != identity.document_number or result.state != "ACTIVE":
                raise DemoError(
                    f"{identity.semantics_identifier} registered as {result.document_number} "
                    f"({result.state}), expected {identity.document_number}"
                )
    except BaseException as exc:
        path.unlink(missing_ok=True)  # the database rolled back: so does the device
        if isinstance(exc, DeviceError):
            raise DemoError(f"{identity.document_number}: registration failed: {exc}") from exc
        raise


def demo_populate(
    *,
    base_url: str,
    bits: int,
    state_dir: Path,
    kdf: KdfParams = DEFAULT_KDF,
    progress: ProgressCallback | None = None,
    identities: Sequence[DemoIdentity] = DEMO_IDENTITIES,
) -> DemoPopulation:
    """Build the demo world; idempotent (what exists is kept, what is missing is made).

    Creates the CA hierarchy, the demo relying parties and, for every identity not yet
    registered, its person and an account on a virtual device whose state goes to
    ``state_dir/<semantics identifier>[-n].json`` (PINs ``DEMO_PIN1``/``DEMO_PIN2``).
    ``base_url`` is this service's public address (certificate URLs, the devices' state);
    ``bits`` must be ``SPLITKEY_BITS`` (the service decides the key size); ``kdf`` is the
    scrypt cost of the devices' PIN-encrypted shares (tests pass a cheap one).
    Each identity is registered in one database transaction, so an interrupted run leaves
    nothing half-made.
    """
    if bits != settings.SPLITKEY_BITS:
        raise DemoError(f"bits={bits} but the service makes {settings.SPLITKEY_BITS}-bit keys")
    say: ProgressCallback = progress or _silent
    started = time.monotonic()
    state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    pki.ca_hierarchy_create(actor=ACTOR, base_url=base_url)
    population = DemoPopulation(relying_parties_created=demo_relying_parties_create())

    todo = []
    for identity in identities:
        path = state_dir / identity.state_name
        if _registered(identity, path):
            population.skipped.append(identity.document_number)
        else:
            todo.append((identity, path))
    if not todo:
        population.seconds = time.monotonic() - started
        return population

    # Two server halves per account; making them first shows the slow part as progress.
    wanted = 2 * len(todo)
    say(f"making {wanted} server key halves ({bits} bits) and registering {len(todo)} accounts")
    for target in range(10, wanted + 10, 10):
        if keys.pool_fill(bits=bits, target=min(target, wanted)):
            say(f"server key halves: {min(target, wanted)}/{wanted}", transient=True)
    transport = httpx.WSGITransport(app=get_wsgi_application())
    with (
        _quiet(logging.getLogger("httpx")),
        httpx.Client(transport=transport, base_url=base_url, timeout=60) as client,
    ):
        for number, (identity, path) in enumerate(todo, start=1):
            began = time.monotonic()
            _register(identity, path, client, bits=bits, kdf=kdf)
            population.registered.append(identity.document_number)
            say(
                f"accounts: {number}/{len(todo)} {identity.document_number} "
                f"({identity.outcome}) in {time.monotonic() - began:.1f} s",
                transient=True,
            )
    population.seconds = time.monotonic() - started
    say(f"registered {len(todo)} accounts in {population.seconds:.0f} s")
    return population


def _silent(message: str, *, transient: bool = False) -> None:
    """No progress wanted."""
