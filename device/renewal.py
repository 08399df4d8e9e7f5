"""Re-key (docs/app-api.md §8): new key halves, new PINs, new certificates for an account.

The current PIN2 key signs the request for the two new client moduli (a wrong PIN counts
toward its lock like any signature); the service pairs them with new server halves; the
new keys sign their certificate requests with the new PINs, and a worker of the service
issues the new certificates and swaps the keys in one database transaction; the app waits
for that on its long poll (§8.4). The local account keeps its old keys until the new
certificates have come and been checked, so a renewal that fails on the way leaves the
app exactly as it was (the service's old keys work until the swap).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from device.answers import ConfirmResult, parse_result
from device.checks import check_certificate, check_csr
from device.errors import ProtocolError, StateError
from device.pins import PIN_MIN_LENGTH, check_pin
from device.registration import (
    CERTIFICATE_POLL_SECONDS,
    DEFAULT_CERTIFICATE_WAIT,
    ProgressCallback,
    _composite_modulus,
    _prefixed,
)
from device.retransmit import key_call, new_rnonce, recover
from device.session import Session
from device.state import PURPOSES, AccountRecord, KeyRecord, b64
from device.wire import API, base64_field, field, json_object, lower_uuid, to_json, token
from signing.engine import (
    ClientKeyBlob,
    KdfParams,
    client_keygen,
    client_partial_for_digest,
    i2osp,
    renewal_aad,
    renewal_statement,
    transport_encrypt_share,
)


@dataclass(frozen=True)
class RenewalResult:
    """The outcome: ``proof`` is the old PIN2 key's answer (``WRONG_PIN`` … stop there);
    with an OK proof, ``certificates`` are the new ones."""

    proof: ConfirmResult
    certificates: dict[str, bytes]
    valid_until: str | None = None

    @property
    def ok(self) -> bool:
        return self.proof.ok and bool(self.certificates)


class Renewal:
    """The §8 flow of one account of this device."""

    def __init__(
        self,
        session: Session,
        *,
        kdf: KdfParams,
        certificate_wait: float = DEFAULT_CERTIFICATE_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._kdf = kdf
        self._certificate_wait = certificate_wait
        self._clock = clock

    def renew(
        self,
        document_number: str,
        pin2: str,
        new_pin1: str,
        new_pin2: str,
        *,
        progress: ProgressCallback | None = None,
    ) -> RenewalResult:
        """Renew ``document_number``: ``pin2`` is the current PIN2, the new PINs protect
        the new keys (PIN1 4-12 digits, PIN2 5-12)."""
        pins = {"AUTH": check_pin(new_pin1, "AUTH"), "SIGN": check_pin(new_pin2, "SIGN")}
        check_pin(pin2, "SIGN")
        account = self._session.account(document_number)
        old_sign = account.keys.get("SIGN")
        if account.state != "ACTIVE" or old_sign is None or old_sign.n is None:
            raise StateError(f"{document_number} is not an active account of this app")
        bits = old_sign.blob.n1.bit_length()
        size = (bits + 7) // 8

        def say(message: str) -> None:
            if progress is not None:
                progress(message)

        blobs: dict[str, ClientKeyBlob] = {}
        d1pp: dict[str, int] = {}
        for purpose in PURPOSES:
            blobs[purpose], d1pp[purpose] = client_keygen(
                pins[purpose],
                bits=bits,
                kdf=self._kdf,
                min_pin_length=PIN_MIN_LENGTH[purpose],
                progress=_prefixed(progress, f"new {purpose} key ({bits} bits): "),
            )
        moduli = {p: i2osp(blobs[p].n1, size) for p in PURPOSES}
        say("proving the request with the current PIN2")
        answer = self._prove(account, old_sign, pin2, moduli, size)
        proof = parse_result(answer)
        if not proof.ok:
            return RenewalResult(proof=proof, certificates={})
        renewal_id = lower_uuid(field(answer, "renewalId"), "renewalId")
        offered = json_object(field(answer, "keys"), "keys")
        records: dict[str, KeyRecord] = {}
        for purpose in PURPOSES:
            entry = json_object(field(offered, purpose), purpose)
            n = _composite_modulus(entry, blobs[purpose], bits, purpose)
            first = token(entry)
            if first is None:
                raise ProtocolError(f"no token for the new {purpose} key")
            records[purpose] = KeyRecord(purpose=purpose, blob=blobs[purpose], n=n, token=first)
        say("sending the server shares of the new keys")
        digests = self._send_shares(account, renewal_id, records, d1pp, size)
        say("signing the certificate requests with the new PINs")
        answer = self._complete(account, renewal_id, records, digests, pins)
        if any(r.certificate is None for r in records.values()):
            say("waiting for the new certificates")
            answer = self._await_certificates(account, renewal_id, records)
        certificates = {p: r.certificate for p, r in records.items() if r.certificate}
        summary = json_object(field(answer, "account"), "account")
        valid_until = summary.get("validUntil")
        valid_until = valid_until if isinstance(valid_until, str) else None
        with self._session.lock:
            account.keys = records  # the old keys are destroyed at the service
            self._session.save()
        say("done")
        return RenewalResult(proof=proof, certificates=certificates, valid_until=valid_until)

    def _prove(
        self,
        account: AccountRecord,
        old: KeyRecord,
        pin2: str,
        moduli: Mapping[str, bytes],
        size: int,
    ) -> dict[str, object]:
        """§8.1: the old signing key signs SHA-256 of ``engine.renewal_statement``."""
        number = account.document_number
        statement = renewal_statement(number, moduli["AUTH"], moduli["SIGN"])
        transport_key = self._session.transport_key()
        with self._session.key_lock(number, "SIGN"):
            recover(self._session, account, old)
            assert old.n is not None and old.token is not None  # noqa: S101 - an active key
            s1_prime = client_partial_for_digest(
                old.blob,
                pin2,
                n=old.n,
                digest=hashlib.sha256(statement).digest(),
                hash_alg="SHA256",
                padding="PKCS1v15",
                salt=None,
                min_pin_length=PIN_MIN_LENGTH["SIGN"],
            )
            envelope = transport_encrypt_share(
                s1_prime, size, transport_key, renewal_aad(number, "proof")
            )
            del s1_prime
            return key_call(
                self._session,
                account,
                old,
                "renewal",
                f"{API}/accounts/{number}/renewal",
                {
                    "keys": {p: {"n1": b64(moduli[p])} for p in PURPOSES},
                    "proof": {"s1p": envelope, "token": b64(old.token), "rnonce": new_rnonce()},
                },
            )

    def _send_shares(
        self,
        account: AccountRecord,
        renewal_id: str,
        records: Mapping[str, KeyRecord],
        d1pp: dict[str, int],
        size: int,
    ) -> dict[str, bytes]:
        """§8.2: d1″ once (then dropped); the certificate requests come back, checked."""
        body = to_json(
            {
                "keys": {
                    p: {"d1pp": b64(i2osp(d1pp[p], size)), "token": b64(records[p].token or b"")}
                    for p in PURPOSES
                }
            }
        )
        d1pp.clear()
        answer = self._session.send(
            "POST", f"{API}/renewals/{renewal_id}/shares", body, device_id=account.device_id
        )
        del body
        keys = json_object(field(answer, "keys"), "keys")
        digests = {}
        for purpose, record in records.items():
            entry = json_object(field(keys, purpose), purpose)
            new_token = token(entry)
            if new_token is None:
                raise ProtocolError(f"no new token for the new {purpose} key")
            record.token = new_token
            csr = json_object(field(entry, "csr"), "csr")
            if field(csr, "hashType") != "SHA256" or field(csr, "padding") != "PKCS1v15":
                raise ProtocolError("a renewal's certificate request is SHA256 with PKCS1v15")
            tbs, digest = base64_field(csr, "tbs"), base64_field(csr, "hash")
            assert record.n is not None  # noqa: S101 - set at §8.1
            check_csr(tbs, digest, n=record.n)
            digests[purpose] = digest
        return digests

    def _complete(
        self,
        account: AccountRecord,
        renewal_id: str,
        records: Mapping[str, KeyRecord],
        digests: Mapping[str, bytes],
        pins: Mapping[str, str],
    ) -> dict[str, object]:
        """§8.3: both new signatures in one call; new tokens, and the new certificates when
        the service has swapped the keys already (always in the embedded mode)."""
        transport_key = self._session.transport_key()
        signatures = {}
        for purpose, record in records.items():
            assert record.n is not None and record.token is not None  # noqa: S101
            size = (record.blob.n1.bit_length() + 7) // 8
            s1_prime = client_partial_for_digest(
                record.blob,
                pins[purpose],
                n=record.n,
                digest=digests[purpose],
                hash_alg="SHA256",
                padding="PKCS1v15",
                salt=None,
                min_pin_length=PIN_MIN_LENGTH[purpose],
            )
            signatures[purpose] = {
                "s1p": transport_encrypt_share(
                    s1_prime, size, transport_key, renewal_aad(renewal_id, purpose)
                ),
                "token": b64(record.token),
                "rnonce": new_rnonce(),
            }
            del s1_prime
        answer = self._session.send(
            "POST",
            f"{API}/renewals/{renewal_id}/complete",
            to_json({"keys": signatures}),
            device_id=account.device_id,
            retry=True,  # the same rnonces: a repeat gets the identical answer
        )
        if answer.get("status") != "OK":
            raise ProtocolError(f"the renewal was answered {answer.get('status')!r}")
        keys = json_object(field(answer, "keys"), "keys")
        for purpose, record in records.items():
            entry = json_object(field(keys, purpose), purpose)
            new_token = token(entry)
            if new_token is None:
                raise ProtocolError(f"no token for the new {purpose} key")
            record.token = new_token
            if entry.get("certificate") is not None:
                _keep(record, base64_field(entry, "certificate"))
        return answer

    def _await_certificates(
        self, account: AccountRecord, renewal_id: str, records: Mapping[str, KeyRecord]
    ) -> dict[str, object]:
        """§8.4: long-poll until the service has swapped the keys (at most
        ``certificate_wait`` seconds); the new certificates, checked, go on the records."""
        deadline = self._clock() + self._certificate_wait
        while True:
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise ProtocolError(
                    f"the service has not issued the new certificates in "
                    f"{self._certificate_wait:.0f} s; the old keys still work, try again later"
                )
            timeout_ms = int(min(remaining, CERTIFICATE_POLL_SECONDS) * 1000)
            answer = self._session.send(
                "GET",
                f"{API}/renewals/{renewal_id}/certificates?timeoutMs={timeout_ms}",
                None,
                device_id=account.device_id,
                retry=True,
                timeout=timeout_ms / 1000 + 15,
            )
            ready = field(answer, "ready")
            if not isinstance(ready, bool):
                raise ProtocolError("'ready' must be true or false")
            if not ready:
                continue
            state = field(answer, "state")
            if state != "COMPLETE":
                raise ProtocolError(f"the renewal ended {state!r}; the old keys still work")
            certificates = json_object(field(answer, "certificates"), "certificates")
            for purpose, record in records.items():
                _keep(record, base64_field(certificates, purpose))
            return answer


def _keep(record: KeyRecord, certificate: bytes) -> None:
    """A new key's certificate, checked to be for its n."""
    assert record.n is not None  # noqa: S101 - set at §8.1
    check_certificate(certificate, n=record.n)
    record.certificate, record.state = certificate, "ACTIVE"
