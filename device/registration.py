"""Registration (docs/app-api.md §2): redeem the ticket, make both keys, hand the service
its shares, sign both certificate requests with the split protocol, wait for the
certificates (the CA issues them in a worker) and keep them.

Each step checks the service's answer before the next one spends anything: the composite
modulus must contain this device's n1, the certificate request must be for that modulus,
and the certificate that comes back must be for it too.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from device.answers import SUPPORTED_INTERACTIONS, RegistrationResult, parse_result
from device.checks import check_csr
from device.errors import ApiError, InputError, ProtocolError, StateError
from device.pins import PIN_MIN_LENGTH, check_pin
from device.retransmit import key_call, new_rnonce, store_certificate
from device.session import Session
from device.state import PURPOSES, AccountRecord, KeyRecord, b64
from device.wire import (
    API,
    base64_field,
    document_number,
    field,
    json_object,
    lower_uuid,
    required_string,
    string,
    to_json,
    token,
)
from signing.engine import (
    ClientKeyBlob,
    EngineError,
    KdfParams,
    client_keygen,
    client_partial_for_digest,
    composite_bit_lengths,
    i2osp,
    load_p256_public_key,
    public_key_der,
    registration_aad,
    transport_encrypt_share,
)
from signing.engine.client import MAX_BITS

#: Smallest key size the app accepts from the service (tests lower it explicitly).
DEFAULT_MIN_KEY_BITS = 3072
#: Longest ticket code the app sends.
MAX_TICKET_LENGTH = 64
#: How long the app waits for its certificates after §2.4 (the CA works in a queue).
DEFAULT_CERTIFICATE_WAIT = 300.0
#: One §2.5 long poll.
CERTIFICATE_POLL_SECONDS = 30.0

ProgressCallback = Callable[[str], None]


@dataclass(frozen=True)
class Redeemed:
    """The service's answer to the ticket (§2.1), checked."""

    registration_id: str
    device_id: str
    document_number: str
    bits: int
    transport_key: bytes
    person: dict[str, str]
    level: str

    @property
    def path(self) -> str:
        """The registration's resource, under which §2.2-2.4 run."""
        return f"{API}/registrations/{self.registration_id}"

    @property
    def size(self) -> int:
        """Bytes of one key's modulus and shares on the wire."""
        return (self.bits + 7) // 8


@dataclass(frozen=True)
class CertificateRequest:
    """What the device signs for one key's certificate request (§2.3)."""

    digest: bytes
    padding: str
    salt: bytes | None


class Registration:
    """The §2 flow of one device (see :meth:`register`)."""

    def __init__(
        self,
        session: Session,
        *,
        min_key_bits: int,
        kdf: KdfParams,
        platform: str,
        name: str,
        certificate_wait: float = DEFAULT_CERTIFICATE_WAIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._session = session
        self._certificate_wait = certificate_wait
        self._clock = clock
        self._min_key_bits = min_key_bits
        self._kdf = kdf
        self._platform = platform
        self._name = name

    def register(
        self,
        ticket: str,
        pin1: str,
        pin2: str,
        *,
        progress: ProgressCallback | None = None,
    ) -> RegistrationResult:
        """Run §2.1-2.5: redeem the ticket, make both keys, sign both CSRs with the split
        protocol, wait for the certificates and store them. PIN1 (AUTH) is 4-12 digits,
        PIN2 (SIGN) 5-12.
        """
        pins = {"AUTH": check_pin(pin1, "AUTH"), "SIGN": check_pin(pin2, "SIGN")}
        if not isinstance(ticket, str) or not 0 < len(ticket) <= MAX_TICKET_LENGTH:
            raise InputError("the ticket must be a short code")

        def say(message: str) -> None:
            if progress is not None:
                progress(message)

        base_url = str(self._session.client.base_url).rstrip("/")
        device_public = self._device_key_for(base_url)
        say("redeeming the ticket")
        redeemed = self._redeem_ticket(ticket, device_public)
        self._pin_service(redeemed, base_url)
        blobs, d1pp = self._generate_keys(redeemed.bits, pins, progress)
        say("sending the public moduli")
        records = self._send_moduli(redeemed, blobs)
        account = self._store_account(redeemed, records)
        say("sending the server shares")
        requests = self._send_shares(redeemed, records, d1pp)
        transport_key = load_p256_public_key(redeemed.transport_key)
        for purpose in PURPOSES:
            self._sign_certificate_request(
                redeemed,
                account,
                records[purpose],
                pins[purpose],
                requests[purpose],
                transport_key,
                say,
            )
        certificates = self._await_certificates(redeemed, account, say)
        say("done")
        return RegistrationResult(
            document_number=redeemed.document_number,
            state=account.state,
            level=redeemed.level,
            person=redeemed.person,
            certificates=certificates,
        )

    # -- §2.1 the ticket -----------------------------------------------------------------

    def _device_key_for(self, base_url: str) -> bytes:
        """DER of the device key (made now if missing, saved with the registration); a
        state belongs to one service.
        """
        state = self._session.state
        with self._session.lock:
            if state.base_url not in (None, base_url):
                raise StateError(f"this state belongs to {state.base_url}; use another state file")
            if state.device_key is None:
                state.device_key = ec.generate_private_key(ec.SECP256R1())
            return public_key_der(state.device_key.public_key())

    def _redeem_ticket(self, ticket: str, device_public: bytes) -> Redeemed:
        """§2.1: the ticket authenticates this one call; check what the service answers."""
        started = self._session.send(
            "POST",
            f"{API}/registrations",
            to_json(
                {
                    "ticket": ticket,
                    "device": {
                        "platform": self._platform,
                        "name": self._name,
                        "publicKey": b64(device_public),
                        "interactions": list(SUPPORTED_INTERACTIONS),
                    },
                }
            ),
            device_id=None,
        )
        registration_id = lower_uuid(field(started, "registrationId"), "registrationId")
        device_id = lower_uuid(field(started, "deviceId"), "deviceId")
        number = document_number(field(started, "documentNumber"))
        bits = field(started, "keyBits")
        if type(bits) is not int or not self._min_key_bits <= bits <= MAX_BITS:
            raise ProtocolError(
                f"the service asks for {bits!r}-bit keys; this app accepts "
                f"{self._min_key_bits}-{MAX_BITS}"
            )
        transport = base64_field(started, "transportKey")
        try:
            load_p256_public_key(transport)
        except EngineError:
            raise ProtocolError("the transport key is not an EC P-256 key") from None
        person_raw = json_object(started.get("person") or {}, "person")
        return Redeemed(
            registration_id=registration_id,
            device_id=device_id,
            document_number=number,
            bits=bits,
            transport_key=transport,
            person={k: v for k, v in person_raw.items() if isinstance(v, str)},
            level=string(started, "level", optional=True) or "",
        )

    def _pin_service(self, redeemed: Redeemed, base_url: str) -> None:
        """Pin the service, the device id and the transport key in the state (a changed
        transport key or a reused document number is refused).
        """
        state = self._session.state
        if state.transport_key not in (None, redeemed.transport_key) and state.device_id:
            # The service may have rotated it (§9.2): follow the endorsements from the pin
            # (a service that announces none leaves the pin, and the check below refuses).
            with contextlib.suppress(ApiError):
                self._session.update_transport_key()
        with self._session.lock:
            if state.transport_key not in (None, redeemed.transport_key):
                raise ProtocolError("the service's transport key changed since it was pinned")
            existing = state.accounts.get(redeemed.document_number)
            if existing is not None and existing.state == "ACTIVE":
                raise ProtocolError(
                    f"the service reused the document number {redeemed.document_number}"
                )
            state.base_url = base_url
            state.device_id = redeemed.device_id
            state.transport_key = redeemed.transport_key
            self._session.save()

    # -- §2.2 the keys -------------------------------------------------------------------

    def _generate_keys(
        self, bits: int, pins: Mapping[str, str], progress: ProgressCallback | None
    ) -> tuple[dict[str, ClientKeyBlob], dict[str, int]]:
        """Both keys, made now (the service decides their size): the PIN-encrypted blobs
        and the shares d1″ that go to the service once.
        """
        blobs = {}
        d1pp = {}
        for purpose in PURPOSES:
            blobs[purpose], d1pp[purpose] = client_keygen(
                pins[purpose],
                bits=bits,
                kdf=self._kdf,
                min_pin_length=PIN_MIN_LENGTH[purpose],
                progress=_prefixed(progress, f"{purpose} key ({bits} bits): "),
            )
        return blobs, d1pp

    def _send_moduli(
        self, redeemed: Redeemed, blobs: Mapping[str, ClientKeyBlob]
    ) -> dict[str, KeyRecord]:
        """§2.2: send n1 of both keys; check each composite modulus contains it."""
        size = redeemed.size
        answer = self._session.send(
            "POST",
            f"{redeemed.path}/keys",
            to_json({"keys": {p: {"n1": b64(i2osp(b.n1, size))} for p, b in blobs.items()}}),
            device_id=redeemed.device_id,
        )
        keys = json_object(field(answer, "keys"), "keys")
        records: dict[str, KeyRecord] = {}
        for purpose, blob in blobs.items():
            entry = json_object(field(keys, purpose), purpose)
            n = _composite_modulus(entry, blob, redeemed.bits, purpose)
            first_token = token(entry)
            if first_token is None:
                raise ProtocolError(f"no token for the {purpose} key")
            records[purpose] = KeyRecord(purpose=purpose, blob=blob, n=n, token=first_token)
        return records

    def _store_account(self, redeemed: Redeemed, records: dict[str, KeyRecord]) -> AccountRecord:
        account = AccountRecord(
            document_number=redeemed.document_number,
            registration_id=redeemed.registration_id,
            device_id=redeemed.device_id,
            person=redeemed.person,
            level=redeemed.level,
            keys=records,
        )
        with self._session.lock:
            self._session.state.accounts[redeemed.document_number] = account
            self._session.save()
        return account

    # -- §2.3 the server shares ----------------------------------------------------------

    def _send_shares(
        self, redeemed: Redeemed, records: Mapping[str, KeyRecord], d1pp: dict[str, int]
    ) -> dict[str, CertificateRequest]:
        """§2.3: d1″ goes to the service once and is dropped here (``d1pp`` is emptied);
        keep the new tokens, check the certificate requests that come back.
        """
        size = redeemed.size
        body = to_json(
            {
                "keys": {
                    p: {"d1pp": b64(i2osp(d1pp[p], size)), "token": b64(records[p].token or b"")}
                    for p in PURPOSES
                }
            }
        )
        d1pp.clear()  # the caller's dict too: no reference to the shares survives this call
        answer = self._session.send(
            "POST", f"{redeemed.path}/shares", body, device_id=redeemed.device_id
        )
        del body
        shares = json_object(field(answer, "keys"), "keys")
        with self._session.lock:
            for purpose, record in records.items():
                entry = json_object(field(shares, purpose), purpose)
                new_token = token(entry)
                if new_token is None:
                    raise ProtocolError(f"no new token for the {purpose} key")
                record.token = new_token
            self._session.save()
        return {
            purpose: _certificate_request(json_object(field(shares, purpose), purpose), record)
            for purpose, record in records.items()
        }

    # -- §2.4 the first split signatures -------------------------------------------------

    def _sign_certificate_request(
        self,
        redeemed: Redeemed,
        account: AccountRecord,
        record: KeyRecord,
        pin: str,
        request: CertificateRequest,
        transport_key: ec.EllipticCurvePublicKey,
        say: ProgressCallback,
    ) -> None:
        """§2.4: the first split signature proves the PIN and the shares; the answer
        carries the certificate when the CA has issued it already (checked and stored by
        :func:`device.retransmit.key_call`), else :meth:`_await_certificates` fetches it.
        """
        purpose = record.purpose
        if request.padding == "PSS" and request.salt is None:
            raise ProtocolError("a PSS certificate request needs a salt")
        say(f"{purpose} key: signing the certificate request")
        with self._session.key_lock(redeemed.document_number, purpose):
            assert record.n is not None and record.token is not None  # noqa: S101
            s1_prime = client_partial_for_digest(
                record.blob,
                pin,
                n=record.n,
                digest=request.digest,
                hash_alg="SHA256",
                padding=request.padding,
                salt=request.salt,
                min_pin_length=PIN_MIN_LENGTH[purpose],
            )
            envelope = transport_encrypt_share(
                s1_prime,
                redeemed.size,
                transport_key,
                registration_aad(redeemed.registration_id, purpose),
            )
            del s1_prime
            answer = key_call(
                self._session,
                account,
                record,
                "csr",
                f"{redeemed.path}/keys/{purpose}/csr-signature",
                {"s1p": envelope, "token": b64(record.token), "rnonce": new_rnonce()},
            )
        result = parse_result(answer)
        if not result.ok:
            raise ProtocolError(f"the {purpose} certificate request was answered {result.status}")

    # -- §2.5 the certificates -------------------------------------------------------------

    def _await_certificates(
        self, redeemed: Redeemed, account: AccountRecord, say: ProgressCallback
    ) -> dict[str, bytes]:
        """§2.5: long-poll until the CA has issued every certificate the §2.4 answers did not
        carry (a worker issues them), at most ``certificate_wait`` seconds; store them.
        """
        deadline = self._clock() + self._certificate_wait
        while True:
            with self._session.lock:
                missing = [p for p, k in account.keys.items() if k.certificate is None]
            if not missing:
                return {p: k.certificate for p, k in account.keys.items() if k.certificate}
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise ProtocolError(
                    f"the service has not issued the {'/'.join(missing)} certificate in "
                    f"{self._certificate_wait:.0f} s; try again later"
                )
            say(f"waiting for the {'/'.join(missing)} certificate")
            timeout_ms = int(min(remaining, CERTIFICATE_POLL_SECONDS) * 1000)
            answer = self._session.send(
                "GET",
                f"{redeemed.path}/certificates?timeoutMs={timeout_ms}",
                None,
                device_id=redeemed.device_id,
                retry=True,
                timeout=timeout_ms / 1000 + 15,
            )
            ready = field(answer, "ready")
            if not isinstance(ready, bool):
                raise ProtocolError("'ready' must be true or false")
            certificates = json_object(field(answer, "certificates"), "certificates")
            summary = json_object(field(answer, "account"), "account")
            with self._session.lock:
                for purpose in missing:
                    if certificates.get(purpose) is not None:
                        store_certificate(
                            account.keys[purpose], base64_field(certificates, purpose)
                        )
                account.state = required_string(summary, "state")
                self._session.save()
            if ready and any(account.keys[p].certificate is None for p in missing):
                raise ProtocolError(
                    f"the service could not issue the certificates (account {account.state})"
                )


def _composite_modulus(
    entry: Mapping[str, Any], blob: ClientKeyBlob, bits: int, purpose: str
) -> int:
    """The composite n = n1·n2 the service answered, checked to contain this device's n1
    with an odd n2 of the same size, and spelled in its minimal length.
    """
    n_raw = base64_field(entry, "n")
    n = int.from_bytes(n_raw, "big")
    n2, rest = divmod(n, blob.n1)
    if (
        rest
        or n2.bit_length() != bits
        or n2 % 2 == 0
        or n.bit_length() not in composite_bit_lengths(bits)
        or len(n_raw) != (n.bit_length() + 7) // 8
    ):
        raise ProtocolError(f"the {purpose} composite modulus does not contain this n1")
    return n


def _certificate_request(entry: Mapping[str, Any], record: KeyRecord) -> CertificateRequest:
    """A §2.3 certificate request, checked to be SHA-256 over a TBS for this key's n."""
    csr = json_object(field(entry, "csr"), "csr")
    tbs, digest = base64_field(csr, "tbs"), base64_field(csr, "hash")
    if field(csr, "hashType") != "SHA256" or field(csr, "padding") not in ("PKCS1v15", "PSS"):
        raise ProtocolError("the certificate request must be SHA256 with PKCS1v15 or PSS")
    assert record.n is not None  # noqa: S101 - set at §2.2
    check_csr(tbs, digest, n=record.n)
    return CertificateRequest(
        digest=digest,
        padding=str(csr["padding"]),
        salt=base64_field(csr, "salt") if csr.get("salt") else None,
    )


def _prefixed(progress: ProgressCallback | None, prefix: str) -> ProgressCallback | None:
    if progress is None:
        return None
    report = progress

    def prefixed(message: str) -> None:
        report(prefix + message)

    return prefixed
