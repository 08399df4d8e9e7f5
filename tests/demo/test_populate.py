"""demo_populate: the demo world, registered through the real app API, idempotently."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from django.core.wsgi import get_wsgi_application
from django.db import connections

from accounts.models import Account, Device, Person
from api.rp.models import RelyingParty
from demo.world import DEMO_IDENTITIES, DemoError, demo_populate
from device.app import DeviceApp
from device.state import FileStore
from pki.asn1 import OID_SUBJECT_DIRECTORY_ATTRIBUTES, date_of_birth_der
from pki.models import Certificate
from signing.models import SplitKey, Transaction
from signing.services.transactions import transaction_create
from tests.helpers.demo_world import CHEAP_KDF, KEY_BITS, DemoAccounts
from tests.live import LiveASGIServer


def _name(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    return str(cert.subject.get_attributes_for_oid(oid)[0].value)


def _counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (Person, Device, Account, SplitKey, Certificate, RelyingParty)
    }


def test_every_identity_is_registered_once(demo_accounts: DemoAccounts) -> None:
    population = demo_accounts.population
    assert sorted(population.registered) == sorted(i.document_number for i in DEMO_IDENTITIES)
    assert population.skipped == []
    assert len(population.relying_parties_created) == 4
    for identity in DEMO_IDENTITIES:
        account = Account.objects.select_related("person", "device").get(
            document_number=identity.document_number
        )
        assert account.state == Account.State.ACTIVE
        assert account.level == identity.level
        assert account.person.semantics_identifier == identity.semantics_identifier
        assert account.person.date_of_birth == identity.date_of_birth
        assert account.device.platform == "demo-autoresponder"
        state = FileStore(demo_accounts.state_dir / identity.state_name).load()
        assert list(state.accounts) == [identity.document_number]
        assert state.device_id == str(account.device_id)
        for key in SplitKey.objects.filter(account=account).select_related("certificate"):
            assert key.state == SplitKey.State.ACTIVE and key.bits == KEY_BITS
            assert key.certificate is not None
            cert = x509.load_der_x509_certificate(bytes(key.certificate.der))
            assert _name(cert, NameOID.SERIAL_NUMBER) == identity.semantics_identifier
            assert _name(cert, NameOID.GIVEN_NAME) == identity.outcome
            assert _name(cert, NameOID.SURNAME) == "TESTNUMBER"
            try:
                dob = cert.extensions.get_extension_for_oid(OID_SUBJECT_DIRECTORY_ATTRIBUTES)
            except x509.ExtensionNotFound:
                assert identity.date_of_birth is None
            else:
                assert identity.date_of_birth is not None
                assert isinstance(dob.value, x509.UnrecognizedExtension)
                assert dob.value.value == date_of_birth_der(identity.date_of_birth)
    assert Account.objects.filter(person__semantics_identifier="PNOLT-30303039816").count() == 2
    for rp in RelyingParty.objects.exclude(name="DEMO RP"):
        assert rp.allowed_networks == ["0.0.0.0/0", "::/0"]
        assert rp.can_authenticate and rp.can_sign and rp.can_choose_certificate
        # SK's demo: ADVANCED is 403 for the DEMO UUIDs, served for the PHP client's.
        assert rp.allow_advanced == (rp.name == "DEMO PHP client")
        assert rp.allows_address("203.0.113.7") and rp.allows_address("2001:db8::1")
    # The demo RP (/demo-rp/) runs in the server's own process: loopback only.
    own = RelyingParty.objects.get(name="DEMO RP")
    assert own.allowed_networks == ["127.0.0.1/32", "::1/128"]
    assert own.can_authenticate and own.can_sign and not own.allow_advanced
    assert own.allows_address("127.0.0.1") and not own.allows_address("203.0.113.7")
    assert sorted(RelyingParty.objects.values_list("name", flat=True)) == [
        "DEMO",
        "DEMO",
        "DEMO PHP client",
        "DEMO RP",
    ]

    before = _counts()
    again = demo_accounts.populate_again()
    assert again.registered == [] and again.relying_parties_created == []
    assert len(again.skipped) == len(DEMO_IDENTITIES)
    assert _counts() == before


def _setup(asgi_server: LiveASGIServer, settings: Any) -> None:
    settings.SPLITKEY_BITS = KEY_BITS
    settings.SITE_URL = asgi_server.url


def test_an_interrupted_registration_leaves_nothing(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _setup(asgi_server, settings)
    first, second = DEMO_IDENTITIES[0], DEMO_IDENTITIES[1]
    original = DeviceApp.register

    def register_then_die(self: DeviceApp, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if result.document_number == second.document_number:
            raise KeyboardInterrupt  # Ctrl-C after the service answered, before the commit
        return result

    monkeypatch.setattr(DeviceApp, "register", register_then_die)
    populate = {
        "base_url": asgi_server.url,
        "bits": KEY_BITS,
        "state_dir": tmp_path,
        "kdf": CHEAP_KDF,
        "identities": [first, second],
    }
    with pytest.raises(KeyboardInterrupt):
        demo_populate(**populate)  # type: ignore[arg-type]
    assert list(Account.objects.values_list("document_number", flat=True)) == [
        first.document_number
    ]
    assert not Person.objects.filter(semantics_identifier=second.semantics_identifier).exists()
    assert sorted(p.name for p in tmp_path.glob("*.json")) == [first.state_name]

    monkeypatch.setattr(DeviceApp, "register", original)
    # A state file whose account does not exist (e.g. from another database) is replaced.
    (tmp_path / second.state_name).write_bytes((tmp_path / first.state_name).read_bytes())
    (tmp_path / second.state_name).chmod(0o600)
    done = demo_populate(**populate)  # type: ignore[arg-type]
    assert done.registered == [second.document_number]
    assert done.skipped == [first.document_number]
    assert list(FileStore(tmp_path / second.state_name).load().accounts) == [second.document_number]

    # An account whose state file is gone can neither answer nor be made again.
    (tmp_path / second.state_name).unlink()
    with pytest.raises(DemoError, match="device state .* is gone"):
        demo_populate(**populate)  # type: ignore[arg-type]


def test_bits_must_be_the_services(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path
) -> None:
    _setup(asgi_server, settings)
    with pytest.raises(DemoError, match="1024-bit keys"):
        demo_populate(base_url=asgi_server.url, bits=3072, state_dir=tmp_path)


def test_app_api_under_wsgi_including_the_long_poll(
    asgi_server: LiveASGIServer, settings: Any, tmp_path: Path
) -> None:
    """demo_populate drives the app API through Django's WSGI handler; so can a device."""
    _setup(asgi_server, settings)
    identity = DEMO_IDENTITIES[0]
    demo_populate(
        base_url=asgi_server.url,
        bits=KEY_BITS,
        state_dir=tmp_path,
        kdf=CHEAP_KDF,
        identities=[identity],
    )
    account = Account.objects.get(document_number=identity.document_number)
    transport = httpx.WSGITransport(app=get_wsgi_application())
    with httpx.Client(transport=transport, base_url=asgi_server.url) as client:
        app = DeviceApp(client, FileStore(tmp_path / identity.state_name), min_key_bits=1024)
        assert app.pending(timeout_ms=0) == []

        def later() -> None:
            try:
                transaction_create(
                    account=account,
                    kind=Transaction.Kind.AUTHENTICATION,
                    rp_name="Demo bank",
                    interactions=[{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
                    digest=hashlib.sha256(b"wsgi").digest(),
                    hash_type="SHA256",
                )
            finally:
                connections.close_all()

        timer = threading.Timer(0.3, later)
        timer.start()
        pending = app.pending(timeout_ms=10_000)  # the async view, woken by the event bus
        timer.join()
        assert [tx.document_number for tx in pending] == [identity.document_number]
        assert app.approve(pending[0], "1234").status == "OK"
    assert Transaction.objects.get().result == Transaction.Result.OK
