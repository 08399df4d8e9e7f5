"""Re-key (docs/app-api.md §8): new key halves, new PINs, new certificates for an account.

The current PIN2 key signs the request for the two new client moduli (a wrong PIN counts
toward its lock like any signature); the service pairs them with new server halves; the
new keys sign their certificate requests with the new PINs, and a worker of the service
issues the new certificates and swaps the keys in one database transaction; the app waits
for that on its long poll (§8.4).

Once §8.3 is sent the service may swap at any moment, and after its swap only the new keys
work. So before sending §8.3 the app writes the new keys — the blobs under the new PINs, n,
tokens — and the exact §8.3 request into its state as the account's *pending renewal*,
beside the old keys. Whatever happens next (the wait runs out, the answer is lost, the
process is killed), :meth:`Renewal.resume` picks it up: it sends the §8.3 request again if
its answer never came (the service answers a repeat identically), then asks §8.4. When
the service has swapped, the certificates are checked against the new keys and the new
keys replace the old ones; when the renewal failed, was abandoned or is unknown to the
service, the new keys are dropped and the old ones (never swapped at the service) stay;
while it is still issuing, both stay. The old keys go only on the service's word that it
swapped.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from device.answers import ConfirmResult, parse_result
from device.checks import check_certificate, check_csr
from device.errors import ApiError, ProtocolError, RenewalPending, StateError
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
from device.state import PURPOSES, AccountRecord, KeyRecord, PendingRenewal, b64
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


#: A renewal the service will never swap (nothing more will come for it).
ENDED = ("FAILED", "ABANDONED")


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
        if account.renewal is not None:
            raise StateError(
                f"a renewal of {document_number} waits for the service: resume it first"
            )
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
        request = self._completion_body(renewal_id, records, digests, pins)
        with self._session.lock:  # from here on the service may swap at any moment
            account.renewal = PendingRenewal(renewal_id, dict(records), request=request)
            self._session.save()
        return self._finish(account, account.renewal, proof, say, self._certificate_wait)

    def resume(
        self,
        document_number: str,
        *,
        wait: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> RenewalResult | None:
        """Pick up the account's pending renewal (None when there is none): the §8.3
        request again if its answer never came, then §8.4 for at most ``wait`` seconds
        (the app's ``certificate_wait`` by default; 0 asks once). :class:`RenewalPending`
        while the service is still issuing; :class:`ProtocolError` when the renewal ended
        without a swap (the new keys are dropped, the old ones stay)."""
        account = self._session.account(document_number)
        pending = account.renewal
        if pending is None:
            return None

        def say(message: str) -> None:
            if progress is not None:
                progress(message)

        say(f"resuming renewal {pending.renewal_id}")
        wait = self._certificate_wait if wait is None else wait
        return self._finish(account, pending, ConfirmResult(status="OK"), say, wait)

    def settle(self, document_number: str) -> bool:
        """Before a key of the account is used: a pending renewal the service has swapped
        is finished, one it ended is dropped (one look at §8.4, no waiting). Whether one
        still waits for the service (its old keys serve until the swap)."""
        try:
            self.resume(document_number, wait=0)
        except RenewalPending:
            return True
        except ProtocolError:
            if self._session.account(document_number).renewal is not None:
                raise
        return False

    def _finish(
        self,
        account: AccountRecord,
        pending: PendingRenewal,
        proof: ConfirmResult,
        say: Callable[[str], None],
        wait: float,
    ) -> RenewalResult:
        """§8.3 (again) if unanswered, §8.4 until swapped; then the new keys replace the
        old ones, or — the renewal ended without a swap — the new keys are dropped."""
        records = pending.keys
        answer: dict[str, object] | None = None
        if pending.request is not None:
            answer = self._send_completion(account, pending)
        if answer is None or any(r.certificate is None for r in records.values()):
            say("waiting for the new certificates")
            answer = self._await_certificates(account, pending, wait)
        certificates = {p: r.certificate for p, r in records.items() if r.certificate}
        summary = json_object(field(answer, "account"), "account")
        valid_until = summary.get("validUntil")
        valid_until = valid_until if isinstance(valid_until, str) else None
        with self._session.lock:
            account.keys = dict(records)  # the old keys are destroyed at the service
            account.renewal = None
            self._session.save()
        say("done")
        return RenewalResult(proof=proof, certificates=certificates, valid_until=valid_until)

    def _drop(self, account: AccountRecord, pending: PendingRenewal) -> None:
        """The service will never swap this renewal: its new keys go, the old ones stay."""
        with self._session.lock:
            if account.renewal is pending:
                account.renewal = None
                self._session.save()

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

    def _completion_body(
        self,
        renewal_id: str,
        records: Mapping[str, KeyRecord],
        digests: Mapping[str, bytes],
        pins: Mapping[str, str],
    ) -> bytes:
        """§8.3's request: both new signatures (s1′ encrypted to the transport key), the
        tokens and fresh retransmit nonces — kept, so that it can be sent again as is."""
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
        return to_json({"keys": signatures})

    def _send_completion(
        self, account: AccountRecord, pending: PendingRenewal
    ) -> dict[str, object] | None:
        """§8.3 sent (again): new tokens, and the new certificates when the service has
        swapped the keys already (always in the embedded mode). None when the answer
        came before (nothing sent).

        A refusal (4xx) is checked against §8.4: a renewal the service has ended, never
        took (still ``OPEN``: expired, or a signature that did not verify) or does not
        know is dropped; anything else keeps it for the next try.
        """
        assert pending.request is not None  # noqa: S101 - the caller checked
        try:
            answer = self._session.send(
                "POST",
                f"{API}/renewals/{pending.renewal_id}/complete",
                pending.request,
                device_id=account.device_id,
                retry=True,  # the same rnonces: a repeat gets the identical answer
            )
        except ApiError as exc:
            if exc.status < 500 and self._ended(account, pending):
                self._drop(account, pending)
                raise ProtocolError(
                    f"the renewal was refused ({exc.message}); the old keys still work"
                ) from None
            raise
        if answer.get("status") != "OK":
            raise ProtocolError(f"the renewal was answered {answer.get('status')!r}")
        keys = json_object(field(answer, "keys"), "keys")
        tokens: dict[str, bytes] = {}
        for purpose in pending.keys:
            entry = json_object(field(keys, purpose), purpose)
            new_token = token(entry)
            if new_token is None:
                raise ProtocolError(f"no token for the new {purpose} key")
            tokens[purpose] = new_token
        with self._session.lock:
            for purpose, record in pending.keys.items():
                record.token = tokens[purpose]
                entry = json_object(field(keys, purpose), purpose)
                if entry.get("certificate") is not None:
                    _keep(record, base64_field(entry, "certificate"))
            pending.request = None
            self._session.save()
        return answer

    def _ended(self, account: AccountRecord, pending: PendingRenewal) -> bool:
        """Whether the service says the renewal can never be swapped (one §8.4 look)."""
        try:
            answer = self._poll(account, pending.renewal_id, 0)
        except ApiError as exc:
            return exc.status == 404
        return answer.get("state") in (*ENDED, "OPEN")

    def _poll(self, account: AccountRecord, renewal_id: str, timeout_ms: int) -> dict[str, object]:
        return self._session.send(
            "GET",
            f"{API}/renewals/{renewal_id}/certificates?timeoutMs={timeout_ms}",
            None,
            device_id=account.device_id,
            retry=True,
            timeout=timeout_ms / 1000 + 15,
        )

    def _await_certificates(
        self, account: AccountRecord, pending: PendingRenewal, wait: float
    ) -> dict[str, object]:
        """§8.4: long-poll until the service has swapped the keys (at most ``wait``
        seconds; at least one look); the new certificates, checked, go on the new keys.
        A renewal that ended without a swap, or that the service does not know, is
        dropped (ProtocolError); one still issuing after ``wait`` raises RenewalPending.
        """
        number, renewal_id = account.document_number, pending.renewal_id
        deadline = self._clock() + wait
        while True:
            remaining = max(deadline - self._clock(), 0)
            timeout_ms = int(min(remaining, CERTIFICATE_POLL_SECONDS) * 1000)
            try:
                answer = self._poll(account, renewal_id, timeout_ms)
            except ApiError as exc:
                if exc.status == 404:
                    self._drop(account, pending)
                    raise ProtocolError(
                        f"the service does not know renewal {renewal_id}; the old keys still work"
                    ) from None
                raise
            ready = field(answer, "ready")
            if not isinstance(ready, bool):
                raise ProtocolError("'ready' must be true or false")
            if not ready:
                if self._clock() >= deadline:
                    raise RenewalPending(
                        number,
                        renewal_id,
                        f"the service has not issued the new certificates in {wait:.0f} s; "
                        f"the old keys still work until it does: run 'renew' again to "
                        f"finish this renewal",
                    )
                continue
            state = field(answer, "state")
            if state in ENDED:
                self._drop(account, pending)
                raise ProtocolError(f"the renewal ended {state!r}; the old keys still work")
            if state != "COMPLETE":
                raise ProtocolError(f"the renewal is ready in the state {state!r}")
            certificates = json_object(field(answer, "certificates"), "certificates")
            with self._session.lock:
                for purpose, record in pending.keys.items():
                    _keep(record, base64_field(certificates, purpose))
            return answer


def _keep(record: KeyRecord, certificate: bytes) -> None:
    """A new key's certificate, checked to be for its n."""
    assert record.n is not None  # noqa: S101 - set at §8.1
    check_certificate(certificate, n=record.n)
    record.certificate, record.state = certificate, "ACTIVE"
