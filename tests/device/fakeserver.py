"""A minimal, honest App API server for the device tests (docs/app-api.md).

It runs in the test process behind an :class:`httpx.MockTransport` and uses the engine's
server side for real: request signatures are verified (and nonces refused twice), n1 is
validated, the composite key is built from a generated server half, s1′ is decrypted from
its transport envelope, :func:`server_sign` completes and fault-checks every signature,
and the resulting signatures are verified with ``cryptography``. Certificates are issued
by a throwaway EC CA over the composite public key. No database, no Django.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric import padding as rsa_padding
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.x509.oid import NameOID

from signing.engine import (
    REVOKE_AT,
    CompositeKey,
    EngineError,
    KeyMaterial,
    KeyState,
    OutcomeStatus,
    RequestAuthError,
    ServerKeyHalf,
    SignRequest,
    byte_length,
    composite_public_key,
    decoy_codes,
    generate_server_half,
    hash_token,
    is_locked,
    new_key_state,
    new_token,
    refresh_token,
    registration_aad,
    request_device_id,
    server_sign,
    transaction_aad,
    transport_decrypt_share,
    validate_client_modulus,
    verification_code,
    verify,
    verify_request,
)
from tests.personas import ALICE

#: Every account of the fake server is Alice's (the name as a certificate writes it).
CN_NAME = f"{ALICE.surname.upper()},{ALICE.given_name.upper()}"
SHA256_WITH_RSA = bytes.fromhex("300d06092a864886f70d01010b0500")
HASHES: dict[str, hashes.HashAlgorithm] = {
    "SHA256": hashes.SHA256(),
    "SHA384": hashes.SHA384(),
    "SHA512": hashes.SHA512(),
}
VC_CHOICE = frozenset({"verificationCodeChoice", "confirmationMessageAndVerificationCodeChoice"})
STATUS = {
    OutcomeStatus.SIGNED: "OK",
    OutcomeStatus.WRONG_PIN: "WRONG_PIN",
    OutcomeStatus.LOCKED: "LOCKED",
    OutcomeStatus.REVOKED: "REVOKED",
    OutcomeStatus.CLONE: "CLONE_DETECTED",
    OutcomeStatus.TOKEN_REFRESHED: "OK",
    OutcomeStatus.TOKEN_MISMATCH: "TOKEN_MISMATCH",
}


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(value: Any) -> bytes:
    return base64.b64decode(value, validate=True)


def der(tag: int, content: bytes) -> bytes:
    n = len(content)
    length = (
        bytes([n])
        if n < 0x80
        else bytes([0x80 | ((n.bit_length() + 7) // 8)])
        + n.to_bytes((n.bit_length() + 7) // 8, "big")
    )
    return bytes([tag]) + length + content


def build_tbs(n: int, common_name: str) -> bytes:
    """A CertificationRequestInfo for (n, 65537): version 0, subject, SPKI, no attributes."""
    spki = (
        rsa.RSAPublicNumbers(65537, n)
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]).public_bytes()
    return der(0x30, b"\x02\x01\x00" + name + spki + b"\xa0\x00")


class Failure(Exception):
    def __init__(self, status: int, error: str, message: str = "") -> None:
        super().__init__(message or error)
        self.status, self.error, self.message = status, error, message or error


@dataclass
class FakeKey:
    purpose: str
    half: ServerKeyHalf
    n1: int
    state: KeyState
    composite: CompositeKey
    d1pp: int | None = None
    tbs: bytes | None = None
    certificate: bytes | None = None
    active: bool = False
    signed: bool = False  # the CSR is signed; the certificate may still be on its way
    answers: dict[bytes, dict[str, Any]] = field(default_factory=dict)


@dataclass
class FakeAccount:
    registration_id: str
    device_id: str
    document_number: str
    state: str = "PENDING"
    keys: dict[str, FakeKey] = field(default_factory=dict)


@dataclass
class FakeTransaction:
    id: str
    account: FakeAccount
    purpose: str
    kind: str
    digest: bytes
    hash_type: str
    padding: str
    salt: bytes | None
    interactions: list[dict[str, str]]
    vc_choices: list[str] | None
    state: str = "PENDING"
    signature: bytes | None = None
    answers: dict[bytes, dict[str, Any]] = field(default_factory=dict)


class FakeServer:
    """The App API over an in-memory model; ``transport()`` gives the httpx transport."""

    def __init__(self, key_bits: int = 1024) -> None:
        self.key_bits = key_bits
        self.transport_key = ec.generate_private_key(ec.SECP256R1())
        self.ca_key = ec.generate_private_key(ec.SECP256R1())
        self.tickets: dict[str, bool] = {}
        self.devices: dict[str, bytes] = {}
        self.seen_nonces: set[tuple[str, str]] = set()
        self.accounts: dict[str, FakeAccount] = {}
        self.transactions: dict[str, FakeTransaction] = {}
        self.requests: list[httpx.Request] = []
        #: path suffix → how many answers to lose (the request is processed, then the
        #: connection "breaks" before the answer arrives)
        self.lose_answers: dict[str, int] = {}
        #: hooks to misbehave: mutate an answer before it is sent, per path suffix
        self.tamper: dict[str, Any] = {}
        self.half_pool = [generate_server_half(key_bits) for _ in range(2)]
        self.clock_offset = 0
        #: True: §2.4 answers without the certificate, as with a real worker; §2.5 issues
        #: it after ``not_ready_polls`` answers of "not yet"; ``refuse_issuance`` closes
        #: the registration instead.
        self.queued_issuance = False
        self.not_ready_polls = 0
        self.refuse_issuance = False

    # -- helpers for tests ---------------------------------------------------------------

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def add_ticket(self) -> str:
        code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
        self.tickets[code] = False
        return code

    def create_transaction(
        self,
        document_number: str,
        purpose: str = "AUTH",
        *,
        kind: str = "AUTHENTICATION",
        hash_type: str = "SHA256",
        padding: str = "PKCS1v15",
        interactions: list[dict[str, str]] | None = None,
        vc_choices: list[str] | None = None,
        data: bytes | None = None,
    ) -> FakeTransaction:
        digest = hashlib.new(hash_type.replace("SHA", "sha"), data or secrets.token_bytes(32))
        raw = digest.digest()
        interactions = interactions or [{"type": "displayTextAndPIN", "displayText60": "Log in"}]
        if vc_choices is None and any(i["type"] in VC_CHOICE for i in interactions):
            vc_choices = decoy_codes(verification_code(raw))
        tx = FakeTransaction(
            id=str(uuid.uuid4()),
            account=self.accounts[document_number],
            purpose=purpose,
            kind=kind,
            digest=raw,
            hash_type=hash_type,
            padding=padding,
            salt=secrets.token_bytes(32) if padding == "PSS" else None,
            interactions=interactions,
            vc_choices=vc_choices,
        )
        self.transactions[tx.id] = tx
        return tx

    def token_is_current(self, document_number: str, purpose: str, token: bytes) -> bool:
        key = self.accounts[document_number].keys[purpose]
        return hash_token(token) == key.state.token_hash

    # -- dispatch ------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        routes: list[tuple[str, str, Callable[..., tuple[int, dict[str, Any]]]]] = [
            ("POST", r"/app/v1/registrations", self.start),
            ("POST", r"/app/v1/registrations/([0-9a-f-]{36})/keys", self.keys),
            ("POST", r"/app/v1/registrations/([0-9a-f-]{36})/shares", self.shares),
            (
                "POST",
                r"/app/v1/registrations/([0-9a-f-]{36})/keys/(AUTH|SIGN)/csr-signature",
                self.csr_signature,
            ),
            ("GET", r"/app/v1/registrations/([0-9a-f-]{36})/certificates", self.certificates),
            ("GET", r"/app/v1/transactions/pending", self.pending),
            ("GET", r"/app/v1/transactions/([0-9a-f-]{36})", self.transaction),
            ("POST", r"/app/v1/transactions/([0-9a-f-]{36})/confirm", self.confirm),
            ("POST", r"/app/v1/transactions/([0-9a-f-]{36})/refuse", self.refuse),
            ("POST", r"/app/v1/keys/([A-Za-z0-9-]+)/(AUTH|SIGN)/refresh", self.refresh),
            ("GET", r"/app/v1/accounts", self.list_accounts),
        ]
        try:
            for method, pattern, view in routes:
                match = re.fullmatch(pattern, path)
                if match and request.method == method:
                    body = json.loads(request.content) if request.content else {}
                    status, answer = view(request, body, *match.groups())
                    break
            else:
                raise Failure(404, "not_found")
        except Failure as exc:
            status = exc.status
            answer = {"code": exc.status, "message": exc.message, "error": exc.error}
        for suffix, hook in self.tamper.items():
            if path.endswith(suffix):
                answer = hook(answer)
        for suffix, count in list(self.lose_answers.items()):
            if path.endswith(suffix) and count > 0:
                self.lose_answers[suffix] = count - 1
                raise httpx.ReadError("connection reset by peer", request=request)
        return httpx.Response(status, json=answer)

    def device_of(self, request: httpx.Request) -> str:
        try:
            device_id = request_device_id(request.headers)
            public_key = self.devices.get(device_id)
            if public_key is None:
                raise Failure(401, "unknown_device")
            _, nonce = verify_request(
                public_key,
                request.method,
                request.url.raw_path.decode(),
                request.content,
                request.headers,
                int(time.time()) + self.clock_offset,
            )
        except RequestAuthError as exc:
            raise Failure(401, exc.code, str(exc)) from None
        if (device_id, nonce) in self.seen_nonces:
            raise Failure(401, "replayed_request")
        self.seen_nonces.add((device_id, nonce))
        return device_id

    def registration(self, request: httpx.Request, rid: str) -> FakeAccount:
        device_id = self.device_of(request)
        for account in self.accounts.values():
            if account.registration_id == rid and account.device_id == device_id:
                return account
        raise Failure(404, "not_found")

    # -- §2 registration -----------------------------------------------------------------

    def start(self, request: httpx.Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        ticket = body.get("ticket")
        if ticket not in self.tickets:
            raise Failure(400, "ticket_invalid")
        if self.tickets[ticket]:
            raise Failure(400, "ticket_used")
        self.tickets[ticket] = True
        device_id = str(uuid.uuid4())
        self.devices[device_id] = unb64(body["device"]["publicKey"])
        number = f"{ALICE.semantics_identifier}-{secrets.token_hex(2).upper()}-Q"
        account = FakeAccount(str(uuid.uuid4()), device_id, number)
        self.accounts[number] = account
        spki = self.transport_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return 201, {
            "registrationId": account.registration_id,
            "deviceId": device_id,
            "documentNumber": number,
            "keyBits": self.key_bits,
            "transportKey": b64(spki),
            "person": {
                "givenName": ALICE.given_name,
                "surname": ALICE.surname,
                "semanticsIdentifier": ALICE.semantics_identifier,
            },
            "level": "QUALIFIED",
        }

    def keys(
        self, request: httpx.Request, body: dict[str, Any], rid: str
    ) -> tuple[int, dict[str, Any]]:
        account = self.registration(request, rid)
        answer = {}
        for purpose in ("AUTH", "SIGN"):
            raw = unb64(body["keys"][purpose]["n1"])
            if len(raw) != self.key_bits // 8:
                raise Failure(400, "modulus_rejected", "wrong length")
            n1 = int.from_bytes(raw, "big")
            half = self.half_pool[0 if purpose == "AUTH" else 1]
            try:
                validate_client_modulus(n1, self.key_bits, half.n2)
            except EngineError as exc:
                raise Failure(400, "modulus_rejected", str(exc)) from None
            state, token = new_key_state()
            composite = composite_public_key(n1, half.n2)
            account.keys[purpose] = FakeKey(purpose, half, n1, state, composite)
            answer[purpose] = {
                "n": b64(composite.n.to_bytes(byte_length(composite.n), "big")),
                "token": b64(token),
            }
        return 200, {"keys": answer}

    def shares(
        self, request: httpx.Request, body: dict[str, Any], rid: str
    ) -> tuple[int, dict[str, Any]]:
        account = self.registration(request, rid)
        answer = {}
        for purpose, key in account.keys.items():
            entry = body["keys"][purpose]
            if hash_token(unb64(entry["token"])) != key.state.token_hash:
                raise Failure(400, "token_mismatch")
            key.d1pp = int.from_bytes(unb64(entry["d1pp"]), "big")
            token, token_hash = new_token()
            key.state = KeyState(token_hash=token_hash)
            key.tbs = build_tbs(key.composite.n, f"{CN_NAME},{purpose}")
            answer[purpose] = {
                "token": b64(token),
                "csr": {
                    "tbs": b64(key.tbs),
                    "hash": b64(hashlib.sha256(key.tbs).digest()),
                    "hashType": "SHA256",
                    "padding": "PKCS1v15",
                },
            }
        return 200, {"keys": answer}

    def _sign(
        self,
        key: FakeKey,
        body: dict[str, Any],
        aad: bytes,
        *,
        digest: bytes,
        hash_type: str,
        padding: str,
        salt: bytes | None,
    ) -> tuple[Any, KeyState]:
        try:
            s1p = transport_decrypt_share(
                _without_kid(body["s1p"]), self.transport_key, aad, byte_length(key.n1)
            )
            sign_request = SignRequest(
                digest=digest,
                hash_alg=hash_type,
                padding=padding,
                salt=salt,
                s1_prime=s1p,
                token=unb64(body["token"]),
                rnonce=unb64(body["rnonce"]),
            )
            assert key.d1pp is not None
            material = KeyMaterial(key.composite, key.d1pp, key.half)
            state, outcome = server_sign(key.state, material, sign_request, datetime.now(UTC))
        except EngineError as exc:
            raise Failure(400, "bad_request", str(exc)) from None
        if outcome.status is OutcomeStatus.CONFLICT:
            raise Failure(409, "rnonce_conflict")
        return outcome, state

    def _status(self, key: FakeKey, outcome: Any) -> dict[str, Any]:
        answer: dict[str, Any] = {"status": STATUS[outcome.status]}
        if outcome.new_token is not None:
            answer["token"] = b64(outcome.new_token)
        if outcome.status is OutcomeStatus.WRONG_PIN:
            answer["triesLeft"] = REVOKE_AT - outcome.fails
        if outcome.locked_until is not None:
            answer["lockedUntil"] = outcome.locked_until.isoformat()
        return answer

    def csr_signature(
        self, request: httpx.Request, body: dict[str, Any], rid: str, purpose: str
    ) -> tuple[int, dict[str, Any]]:
        account = self.registration(request, rid)
        key = account.keys[purpose]
        rnonce = unb64(body["rnonce"])
        assert key.tbs is not None
        outcome, state = self._sign(
            key,
            body,
            registration_aad(rid, purpose),
            digest=hashlib.sha256(key.tbs).digest(),
            hash_type="SHA256",
            padding="PKCS1v15",
            salt=None,
        )
        key.state = state
        if outcome.replayed and rnonce in key.answers:
            return 200, key.answers[rnonce]
        answer = self._status(key, outcome)
        if outcome.status is OutcomeStatus.SIGNED:
            csr_der = der(0x30, key.tbs + SHA256_WITH_RSA + der(0x03, b"\x00" + outcome.signature))
            csr = x509.load_der_x509_csr(csr_der)
            assert csr.is_signature_valid, "the split signature over the CSR must verify"
            key.signed = True
            if not self.queued_issuance:
                self._issue_key(account, key)
                answer["certificate"] = b64(key.certificate or b"")
            answer["account"] = {"documentNumber": account.document_number, "state": account.state}
        key.answers[rnonce] = answer
        return 200, answer

    def _issue_key(self, account: FakeAccount, key: FakeKey) -> None:
        key.certificate = self.issue(key.composite.n, key.purpose)
        key.active = True
        if all(k.active for k in account.keys.values()):
            account.state = "ACTIVE"

    def certificates(
        self, request: httpx.Request, body: dict[str, Any], rid: str
    ) -> tuple[int, dict[str, Any]]:
        account = self.registration(request, rid)
        waiting = [k for k in account.keys.values() if k.signed and k.certificate is None]
        if waiting and self.not_ready_polls > 0:
            self.not_ready_polls -= 1
            # A long poll that ends at its deadline (kept short: this is a test double).
            time.sleep(min(int(request.url.params.get("timeoutMs", "0")), 200) / 1000)
        elif waiting and self.refuse_issuance:
            account.state = "REVOKED"
            for key in waiting:
                key.signed = False
        else:
            for key in waiting:
                self._issue_key(account, key)
        ready = not any(k.signed and k.certificate is None for k in account.keys.values())
        return 200, {
            "ready": ready,
            "account": {"documentNumber": account.document_number, "state": account.state},
            "certificates": {
                p: b64(k.certificate) for p, k in account.keys.items() if k.certificate is not None
            },
        }

    def issue(self, n: int, purpose: str) -> bytes:
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{CN_NAME} {purpose}")])
        issuer = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Fake EID CA")])
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer)
            .public_key(rsa.RSAPublicNumbers(65537, n).public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + timedelta(days=365))
            .sign(self.ca_key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.DER)

    # -- §3 transactions -----------------------------------------------------------------

    def _tx_json(self, tx: FakeTransaction) -> dict[str, Any]:
        key = tx.account.keys[tx.purpose]
        data: dict[str, Any] = {
            "id": tx.id,
            "state": tx.state,
            "kind": tx.kind,
            "documentNumber": tx.account.document_number,
            "rpName": "DEMO",
            "interactions": tx.interactions,
            "expiresAt": "2099-01-01T00:00:00Z",
        }
        if tx.kind != "CERTIFICATE_CHOICE":
            data.update(
                purpose=tx.purpose,
                hash=b64(tx.digest),
                hashType=tx.hash_type,
                padding=tx.padding,
                n=b64(key.composite.n.to_bytes(byte_length(key.composite.n), "big")),
            )
            if tx.salt is not None:
                data["salt"] = b64(tx.salt)
        if tx.vc_choices is not None:
            data["vcChoices"] = tx.vc_choices
        return data

    def _own_tx(self, request: httpx.Request, tx_id: str) -> FakeTransaction:
        device_id = self.device_of(request)
        tx = self.transactions.get(tx_id)
        if tx is None or tx.account.device_id != device_id:
            raise Failure(404, "not_found")
        return tx

    def pending(self, request: httpx.Request, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        device_id = self.device_of(request)
        timeout = int(request.url.params.get("timeoutMs", "30000"))
        if not 0 <= timeout <= 120_000:
            raise Failure(400, "bad_request")
        items = [
            self._tx_json(tx)
            for tx in self.transactions.values()
            if tx.account.device_id == device_id and tx.state == "PENDING"
        ]
        return 200, {"transactions": items}

    def transaction(
        self, request: httpx.Request, body: dict[str, Any], tx_id: str
    ) -> tuple[int, dict[str, Any]]:
        return 200, self._tx_json(self._own_tx(request, tx_id))

    def confirm(
        self, request: httpx.Request, body: dict[str, Any], tx_id: str
    ) -> tuple[int, dict[str, Any]]:
        tx = self._own_tx(request, tx_id)
        if tx.kind == "CERTIFICATE_CHOICE":
            if tx.state != "PENDING":
                raise Failure(409, "transaction_finished")
            tx.state = "COMPLETE"
            return 200, {"status": "OK"}
        rnonce = unb64(body["rnonce"])
        if rnonce in tx.answers:
            return 200, tx.answers[rnonce]
        if tx.state != "PENDING":
            raise Failure(409, "transaction_finished")
        interaction = next(i for i in tx.interactions if i["type"] == body["interaction"])
        if interaction["type"] in VC_CHOICE:
            if body.get("vc") != verification_code(tx.digest):
                tx.state = "COMPLETE"
                tx.answers[rnonce] = {"status": "WRONG_VC"}
                return 200, tx.answers[rnonce]
        key = tx.account.keys[tx.purpose]
        outcome, state = self._sign(
            key,
            body,
            transaction_aad(tx.id),
            digest=tx.digest,
            hash_type=tx.hash_type,
            padding=tx.padding,
            salt=tx.salt,
        )
        key.state = state
        answer = self._status(key, outcome)
        if outcome.status is OutcomeStatus.SIGNED:
            n = key.composite.n
            verify(
                n,
                65537,
                outcome.signature,
                tx.digest,
                tx.hash_type,
                tx.padding,
                None if tx.salt is None else len(tx.salt),
            )
            public = rsa.RSAPublicNumbers(65537, n).public_key()
            algorithm = HASHES[tx.hash_type]
            pad: rsa_padding.AsymmetricPadding = rsa_padding.PKCS1v15()
            if tx.padding == "PSS":
                assert tx.salt is not None
                pad = rsa_padding.PSS(rsa_padding.MGF1(algorithm), len(tx.salt))
            public.verify(outcome.signature, tx.digest, pad, Prehashed(algorithm))
            tx.signature = outcome.signature
        if outcome.status in (OutcomeStatus.SIGNED, OutcomeStatus.WRONG_PIN):
            tx.state = "COMPLETE"
        if outcome.status is OutcomeStatus.CLONE:
            tx.account.state = "CLOSED"
        tx.answers[rnonce] = answer
        return 200, answer

    def refuse(
        self, request: httpx.Request, body: dict[str, Any], tx_id: str
    ) -> tuple[int, dict[str, Any]]:
        tx = self._own_tx(request, tx_id)
        if tx.state != "PENDING":
            raise Failure(409, "transaction_finished")
        tx.state = "REFUSED"
        return 200, {"status": "REFUSED"}

    # -- §4 keys -------------------------------------------------------------------------

    def refresh(
        self, request: httpx.Request, body: dict[str, Any], number: str, purpose: str
    ) -> tuple[int, dict[str, Any]]:
        device_id = self.device_of(request)
        account = self.accounts.get(number)
        if account is None or account.device_id != device_id:
            raise Failure(404, "not_found")
        key = account.keys[purpose]
        state, outcome = refresh_token(
            key.state, token=unb64(body["token"]), rnonce=unb64(body["rnonce"])
        )
        key.state = state
        return 200, self._status(key, outcome)

    def list_accounts(
        self, request: httpx.Request, body: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        device_id = self.device_of(request)
        now = datetime.now(UTC)
        items = []
        for account in self.accounts.values():
            if account.device_id != device_id:
                continue
            keys = {}
            for purpose, key in account.keys.items():
                state = (
                    "REVOKED"
                    if key.state.revoked
                    else (
                        "LOCKED"
                        if is_locked(key.state.lock, now)
                        else ("ACTIVE" if key.active else "PENDING")
                    )
                )
                keys[purpose] = {
                    "state": state,
                    "triesLeft": REVOKE_AT - key.state.fails,
                    "lockedUntil": None
                    if key.state.locked_until is None
                    else key.state.locked_until.isoformat(),
                }
            items.append(
                {
                    "documentNumber": account.document_number,
                    "state": account.state,
                    "level": "QUALIFIED",
                    "keys": keys,
                }
            )
        return 200, {"accounts": items}


def _without_kid(envelope: Any) -> Any:
    """The envelope without its optional transport key id (docs/app-api.md §5, §9.2): this
    server has one transport key."""
    if isinstance(envelope, dict):
        return {name: value for name, value in envelope.items() if name != "kid"}
    return envelope
