"""Registrations and re-keys whose certificates a worker issues, and what "issued exactly
once" means."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from accounts.models import Account
from audit.models import AuditRecord
from audit.services import audit_chain_verify
from device import RegistrationResult
from device.app import DeviceApp
from device.renewal import RenewalResult
from pki.models import Certificate
from signing.models import KeyRenewal, SplitKey
from tests.personas import PIN1, PIN2


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def issued(document_number: str) -> list[Certificate]:
    return list(Certificate.objects.filter(document_number=document_number).order_by("purpose"))


def issued_audits(certificate: Certificate) -> int:
    return AuditRecord.objects.filter(
        action="certificate.issued", object_id=str(certificate.pk)
    ).count()


def assert_exactly_once(document_number: str) -> list[Certificate]:
    """One certificate per purpose, distinct serials, one issuance audit record each, the
    keys active with them, and the audit chain intact.
    """
    certificates = issued(document_number)
    assert [c.purpose for c in certificates] == ["AUTH", "SIGN"]
    assert len({c.serial_number for c in certificates}) == 2
    assert all(issued_audits(c) == 1 for c in certificates)
    for key in SplitKey.objects.filter(account__document_number=document_number):
        assert key.state == SplitKey.State.ACTIVE and key.certificate is not None
    assert audit_chain_verify() is None
    return certificates


@dataclass
class Registering:
    """``app.register`` in a thread: it blocks on §2.5 until the certificates come."""

    app: DeviceApp
    result: RegistrationResult | None = None
    error: BaseException | None = None
    thread: threading.Thread = field(init=False)

    def start(self, ticket: str) -> None:
        def run() -> None:
            try:
                self.result = self.app.register(ticket, PIN1, PIN2)
            except BaseException as exc:  # noqa: BLE001 -- handed to the test
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def account(self) -> Account:
        """The account, once both CSRs are signed and waiting for their certificates."""

        def both_issuing() -> bool:
            device_id = self.app.device_id
            if device_id is None:
                return False
            states = SplitKey.objects.filter(account__device_id=device_id).values_list(
                "state", flat=True
            )
            return sorted(states) == ["ISSUING"] * 2

        wait_until(both_issuing, "both certificate requests signed")
        return Account.objects.get(device_id=str(self.app.device_id))

    def finish(self, seconds: float = 60) -> RegistrationResult:
        self.thread.join(timeout=seconds)
        assert not self.thread.is_alive(), "register() still waiting"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


@dataclass
class Renewing:
    """``app.renew`` in a thread: it blocks on §8.4 until a worker has swapped the keys."""

    app: DeviceApp
    document_number: str
    result: RenewalResult | None = None
    error: BaseException | None = None
    thread: threading.Thread = field(init=False)

    def start(self, pin2: str, new_pin1: str, new_pin2: str) -> None:
        def run() -> None:
            try:
                self.result = self.app.renew(self.document_number, pin2, new_pin1, new_pin2)
            except BaseException as exc:  # noqa: BLE001 -- handed to the test
                self.error = exc

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()

    def renewal(self) -> KeyRenewal:
        """The renewal, once both new keys signed and wait for the swap (``ISSUING``)."""

        def issuing() -> bool:
            return KeyRenewal.objects.filter(
                account__document_number=self.document_number, state=KeyRenewal.State.ISSUING
            ).exists()

        wait_until(issuing, "both new certificate requests signed")
        return KeyRenewal.objects.get(
            account__document_number=self.document_number, state=KeyRenewal.State.ISSUING
        )

    def finish(self, seconds: float = 60) -> RenewalResult:
        self.thread.join(timeout=seconds)
        assert not self.thread.is_alive(), "renew() still waiting"
        if self.error is not None:
            raise self.error
        assert self.result is not None
        return self.result


def assert_renewed_once(renewal: KeyRenewal, old: Mapping[str, int]) -> list[Certificate]:
    """After a re-key: one new certificate per purpose (distinct serials, one issuance
    audit record each) on the renewal's keys, active; the ``old`` certificates (purpose →
    id) revoked as superseded exactly once; nothing else issued; the audit chain intact.
    """
    account = renewal.account
    new = list(Certificate.objects.filter(split_key__renewal=renewal).order_by("purpose"))
    assert [c.purpose for c in new] == ["AUTH", "SIGN"]
    assert (
        len(
            {c.serial_number for c in new}
            | {c.serial_number for c in Certificate.objects.filter(pk__in=old.values())}
        )
        == 4
    )
    assert all(issued_audits(c) == 1 for c in new)
    assert Certificate.objects.filter(document_number=account.document_number).count() == 4
    for certificate in Certificate.objects.filter(pk__in=old.values()):
        assert certificate.status == Certificate.Status.REVOKED
        assert certificate.revocation_reason == Certificate.Reason.SUPERSEDED
        assert (
            AuditRecord.objects.filter(
                action="certificate.revoked", object_id=str(certificate.pk)
            ).count()
            == 1
        )
    keys = SplitKey.objects.filter(account=account, state=SplitKey.State.ACTIVE)
    assert {k.certificate_id for k in keys} == {c.pk for c in new}
    renewal.refresh_from_db()
    assert renewal.state == KeyRenewal.State.COMPLETE
    assert (
        AuditRecord.objects.filter(
            action="renewal.completed", data__renewal=str(renewal.pk)
        ).count()
        == 1
    )
    assert audit_chain_verify() is None
    return new
