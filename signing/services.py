"""The split-key service: registration of an account's keys and transactions.

Every operation that touches a key loads its row with ``select_for_update`` and runs
the engine's pure protocol (``signing.engine.protocol``) on it, so PIN tries are
counted exactly even under parallel answers (PostgreSQL row locks), then saves the new
state, the transaction's result and an audit record in the same database transaction.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from asn1crypto import csr as acsr
from asn1crypto import keys as akeys
from asn1crypto import x509 as ax509
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Account, Device
from accounts.services import account_set_state
from audit.services import audit_record
from core import events
from core.errors import DomainError
from pki import services as pki
from pki.models import Certificate
from pki.profiles import SubjectIdentity
from signing import engine, keys
from signing.engine import transport
from signing.engine.encoding import check_digest
from signing.engine.vc import decoy_codes, verification_code
from signing.models import SplitKey, Transaction

PURPOSES = (SplitKey.Purpose.AUTH, SplitKey.Purpose.SIGN)
PIN_TRIES_BEFORE_REVOKE = engine.REVOKE_AT
VC_INTERACTIONS = frozenset(
    {"verificationCodeChoice", "confirmationMessageAndVerificationCodeChoice"}
)
REFUSAL_RESULTS = {
    "displayTextAndPIN": Transaction.Result.USER_REFUSED_DISPLAYTEXTANDPIN,
    "verificationCodeChoice": Transaction.Result.USER_REFUSED_VC_CHOICE,
    "confirmationMessage": Transaction.Result.USER_REFUSED_CONFIRMATIONMESSAGE,
    "confirmationMessageAndVerificationCodeChoice": (
        Transaction.Result.USER_REFUSED_CONFIRMATIONMESSAGE_WITH_VC_CHOICE
    ),
    "certificateChoice": Transaction.Result.USER_REFUSED_CERT_CHOICE,
}
KNOWN_INTERACTIONS = frozenset(REFUSAL_RESULTS) - {"certificateChoice"}


class SigningError(DomainError):
    code = "signing_error"


class NotFound(SigningError):
    code = "not_found"


class WrongState(SigningError):
    code = "wrong_state"


class TransactionFinished(SigningError):
    code = "transaction_finished"


class BadRequest(SigningError):
    code = "bad_request"


def device_channel(device_id: object) -> str:
    return f"device:{device_id}"


def transaction_channel(transaction_id: uuid.UUID | str) -> str:
    return f"transaction:{transaction_id}"


def group_channel(group: uuid.UUID | str) -> str:
    return f"group:{group}"


def _publish_on_commit(*channels: str) -> None:
    for channel in channels:
        transaction.on_commit(functools.partial(events.publish, channel))


# --- key state <-> engine ------------------------------------------------------


def _state(key: SplitKey) -> engine.KeyState:
    return engine.KeyState(
        token_hash=bytes(key.token_hash),
        fails=key.fails,
        locked_until=key.locked_until,
        revoked=key.revoked,
        revoke_reason=engine.RevokeReason(key.revoke_reason) if key.revoke_reason else None,
        suspect=key.suspect,
        last_rnonce_hash=None if key.last_rnonce_hash is None else bytes(key.last_rnonce_hash),
        last_request_digest=(
            None if key.last_request_digest is None else bytes(key.last_request_digest)
        ),
        last_response=None if key.last_response is None else bytes(key.last_response),
    )


def _save_state(key: SplitKey, state: engine.KeyState) -> None:
    key.token_hash = state.token_hash
    key.fails = state.fails
    key.locked_until = state.locked_until
    key.revoked = state.revoked
    key.revoke_reason = state.revoke_reason.value if state.revoke_reason else ""
    key.suspect = state.suspect
    key.last_rnonce_hash = state.last_rnonce_hash
    key.last_request_digest = state.last_request_digest
    key.last_response = state.last_response
    key.save(
        update_fields=[
            "token_hash",
            "fails",
            "locked_until",
            "revoked",
            "revoke_reason",
            "suspect",
            "last_rnonce_hash",
            "last_request_digest",
            "last_response",
        ]
    )


def _int_from(raw: bytes, *, length: int, what: str) -> int:
    if not isinstance(raw, bytes) or len(raw) != length:
        raise BadRequest(f"{what} must be {length} bytes.")
    return int.from_bytes(raw, "big")


def _key_length(key: SplitKey) -> int:
    return (key.bits + 7) // 8


def _locked_keys(account: Account) -> dict[str, SplitKey]:
    return {
        k.purpose: k
        for k in SplitKey.objects.select_for_update().filter(account=account).order_by("purpose")
    }


def _require_pending(account: Account) -> Account:
    row = Account.objects.select_for_update().get(pk=account.pk)
    if row.state != Account.State.PENDING:
        raise WrongState("The registration is finished.")
    return row


# --- registration ------------------------------------------------------------------


@dataclass(frozen=True)
class NewKey:
    n: int
    token: bytes


@transaction.atomic
def registration_submit_moduli(
    *, account: Account, moduli: Mapping[str, bytes]
) -> dict[str, NewKey]:
    """Step 2: validate n1 per purpose, pair it with a pooled server half, make n."""
    account = _require_pending(account)
    if set(moduli) != set(PURPOSES):
        raise BadRequest("Send n1 for both AUTH and SIGN.")
    if SplitKey.objects.filter(account=account).exists():
        raise WrongState("The moduli were already submitted.")
    bits = settings.SPLITKEY_BITS
    result: dict[str, NewKey] = {}
    seen: set[int] = set()
    for purpose in PURPOSES:
        n1 = _int_from(moduli[purpose], length=(bits + 7) // 8, what="n1")
        n2_hex, wrapped_half = keys.pool_take(bits=bits)
        n2 = int(n2_hex, 16)
        known = seen | ({n1} if SplitKey.objects.filter(n1=format(n1, "x")).exists() else set())
        try:
            engine.validate_client_modulus(n1, bits, n2, known=known)
            composite = engine.composite_public_key(n1, n2)
        except engine.ModulusRejected as exc:
            raise BadRequest(f"n1 rejected: {exc.reason.value}.", code="modulus_rejected") from None
        seen.add(n1)
        state, token = engine.new_key_state()
        key = SplitKey(
            account=account,
            purpose=purpose,
            bits=bits,
            n1=format(n1, "x"),
            n2=n2_hex,
            wrapped_server_half=wrapped_half,
        )
        _save_state_new(key, state)
        result[purpose] = NewKey(n=composite.n, token=token)
    audit_record(
        actor=f"device:{account.device_id}",
        action="keys.moduli_submitted",
        object_type="accounts.Account",
        object_id=account.pk,
        data={"bits": bits},
    )
    return result


def _save_state_new(key: SplitKey, state: engine.KeyState) -> None:
    key.token_hash = state.token_hash
    key.save()


@dataclass(frozen=True)
class CsrToSign:
    token: bytes
    tbs: bytes
    digest: bytes


def _csr_info(composite: engine.CompositeKey, document_number: str) -> bytes:
    info = acsr.CertificationRequestInfo(
        {
            "version": "v1",
            "subject": ax509.Name.build({"common_name": document_number}),
            "subject_pk_info": {
                "algorithm": {"algorithm": "rsa"},
                "public_key": akeys.RSAPublicKey(
                    {"modulus": composite.n, "public_exponent": composite.e}
                ),
            },
            "attributes": [],
        }
    )
    return bytes(info.dump())


def _check_token(key: SplitKey, token: bytes) -> None:
    if not isinstance(token, bytes) or not engine.token_matches(token, bytes(key.token_hash)):
        raise BadRequest("The one-time token does not match.", code="token_mismatch")


@transaction.atomic
def registration_submit_shares(
    *, account: Account, shares: Mapping[str, tuple[bytes, bytes]]
) -> dict[str, CsrToSign]:
    """Step 3: store d1″ (wrapped) per purpose, rotate the token, build the CSR to sign."""
    account = _require_pending(account)
    if set(shares) != set(PURPOSES):
        raise BadRequest("Send d1″ for both AUTH and SIGN.")
    found = _locked_keys(account)
    if set(found) != set(PURPOSES) or any(
        k.state != SplitKey.State.AWAITING_SHARE for k in found.values()
    ):
        raise WrongState("The shares were already submitted, or the moduli were not.")
    for purpose in PURPOSES:
        _check_token(found[purpose], shares[purpose][1])
    result: dict[str, CsrToSign] = {}
    for purpose in PURPOSES:
        key = found[purpose]
        d1pp = _int_from(shares[purpose][0], length=_key_length(key), what="d1″")
        if not 0 < d1pp < int(key.n1, 16):
            raise BadRequest("d1″ is out of range.")
        key.wrapped_d1pp = keys.wrap_d1pp(key, d1pp)
        composite = engine.composite_public_key(int(key.n1, 16), int(key.n2, 16))
        key.csr_info = _csr_info(composite, account.document_number)
        key.state = SplitKey.State.AWAITING_CSR
        token, token_hash = engine.new_token()
        key.token_hash = token_hash
        key.save(update_fields=["wrapped_d1pp", "csr_info", "state", "token_hash"])
        tbs = bytes(key.csr_info)
        result[purpose] = CsrToSign(token=token, tbs=tbs, digest=hashlib.sha256(tbs).digest())
    audit_record(
        actor=f"device:{account.device_id}",
        action="keys.shares_submitted",
        object_type="accounts.Account",
        object_id=account.pk,
        data={},
    )
    return result


@dataclass(frozen=True)
class Answer:
    """What the app is told after it sent a partial signature."""

    status: str
    token: bytes | None = None
    tries_left: int | None = None
    locked_until: datetime | None = None
    certificate: bytes | None = None

    def as_json(self) -> dict[str, Any]:
        import base64

        body: dict[str, Any] = {"status": self.status}
        if self.token is not None:
            body["token"] = base64.b64encode(self.token).decode()
        if self.tries_left is not None:
            body["triesLeft"] = self.tries_left
        if self.locked_until is not None:
            body["lockedUntil"] = self.locked_until.isoformat().replace("+00:00", "Z")
        if self.certificate is not None:
            body["certificate"] = base64.b64encode(self.certificate).decode()
        return body


_STATUS = {
    engine.OutcomeStatus.SIGNED: "OK",
    engine.OutcomeStatus.WRONG_PIN: "WRONG_PIN",
    engine.OutcomeStatus.LOCKED: "LOCKED",
    engine.OutcomeStatus.REVOKED: "REVOKED",
    engine.OutcomeStatus.CLONE: "CLONE_DETECTED",
}


def _answer(outcome: engine.Outcome) -> Answer:
    if outcome.status == engine.OutcomeStatus.CONFLICT:
        raise BadRequest(
            "The retransmit nonce was used for another request.", code="rnonce_conflict"
        )
    status = _STATUS[outcome.status]
    tries_left = None
    if outcome.status == engine.OutcomeStatus.WRONG_PIN:
        tries_left = max(PIN_TRIES_BEFORE_REVOKE - outcome.fails, 0)
    return Answer(
        status=status,
        token=outcome.new_token,
        tries_left=tries_left,
        locked_until=outcome.locked_until
        if outcome.status in (engine.OutcomeStatus.WRONG_PIN, engine.OutcomeStatus.LOCKED)
        else None,
    )


def _decrypt_s1p(envelope: object, *, aad: str, key: SplitKey) -> int:
    try:
        return transport.decrypt_share(
            envelope, keys.transport_private_key(), aad.encode(), _key_length(key)
        )
    except engine.EngineError:
        raise BadRequest(
            "The encrypted partial signature is malformed.", code="bad_envelope"
        ) from None


def _sign(
    key: SplitKey,
    *,
    digest: bytes,
    hash_alg: str,
    padding: str,
    salt: bytes | None,
    s1_prime: int,
    token: bytes,
    rnonce: bytes,
    now: datetime,
) -> engine.Outcome:
    """Run ServerComplete on a locked key row and save its new state."""
    try:
        request = engine.SignRequest(
            digest=digest,
            hash_alg=hash_alg,
            padding=padding,
            s1_prime=s1_prime,
            token=token,
            rnonce=rnonce,
            salt=salt,
        )
        state, outcome = engine.server_sign(_state(key), keys.key_material(key), request, now)
    except engine.InvalidInput as exc:
        raise BadRequest(f"Invalid signing request: {exc}") from None
    _save_state(key, state)
    return outcome


def _identity(account: Account) -> SubjectIdentity:
    person = account.person
    return SubjectIdentity(
        semantics_identifier=person.semantics_identifier,
        given_name=person.given_name,
        surname=person.surname,
        country=person.country,
        date_of_birth=person.date_of_birth,
    )


def _csr_der(info: bytes, signature: bytes) -> bytes:
    request = acsr.CertificationRequest(
        {
            "certification_request_info": acsr.CertificationRequestInfo.load(info),
            "signature_algorithm": {"algorithm": "sha256_rsa"},
            "signature": signature,
        }
    )
    return bytes(request.dump())


@transaction.atomic
def registration_sign_csr(
    *, account: Account, purpose: str, envelope: object, token: bytes, rnonce: bytes
) -> Answer:
    """Step 4: the first split signature (PIN1 or PIN2) on the CSR; issue the certificate.

    The account becomes ACTIVE when both certificates exist. Everything — the key state,
    the certificate, the account state — commits together or not at all.
    """
    account = Account.objects.select_for_update().select_related("person").get(pk=account.pk)
    key = SplitKey.objects.select_for_update().filter(account=account, purpose=purpose).first()
    if key is None:
        raise NotFound("No such key.")
    if key.state == SplitKey.State.ACTIVE and key.certificate is not None:
        # A retransmit after a lost answer: the engine answers from its cache.
        pass
    elif key.state != SplitKey.State.AWAITING_CSR or account.state != Account.State.PENDING:
        raise WrongState("This key is not waiting for its certificate request signature.")
    s1_prime = _decrypt_s1p(envelope, aad=f"registration:{account.uuid}:{purpose}", key=key)
    info = bytes(key.csr_info or b"")
    outcome = _sign(
        key,
        digest=hashlib.sha256(info).digest(),
        hash_alg="SHA256",
        padding="PKCS1v15",
        salt=None,
        s1_prime=s1_prime,
        token=token,
        rnonce=rnonce,
        now=timezone.now(),
    )
    answer = _answer(outcome)
    if outcome.revoke:
        _close_account(account, actor=f"device:{account.device_id}", reason=outcome.status.value)
    if outcome.status != engine.OutcomeStatus.SIGNED:
        return answer
    assert outcome.signature is not None
    if outcome.replayed and key.certificate is not None:
        return Answer(status="OK", token=outcome.new_token, certificate=bytes(key.certificate.der))
    bits = key.bits
    certificate = pki.certificate_issue(
        csr_der=_csr_der(info, outcome.signature),
        identity=_identity(account),
        document_number=account.document_number,
        purpose=purpose,
        qualified=account.is_qualified,
        allowed_key_bits=set(engine.composite_bit_lengths(bits)),
        actor=f"device:{account.device_id}",
    )
    key.certificate = certificate
    key.state = SplitKey.State.ACTIVE
    key.save(update_fields=["certificate", "state"])
    if all(k.state == SplitKey.State.ACTIVE for k in SplitKey.objects.filter(account=account)):
        account_set_state(
            account=account,
            state=Account.State.ACTIVE,
            actor=f"device:{account.device_id}",
            reason="both certificates issued",
        )
    return Answer(status="OK", token=outcome.new_token, certificate=bytes(certificate.der))


# --- closing an account ----------------------------------------------------------


def _destroy_keys(account: Account, *, reason: str) -> None:
    now = timezone.now()
    keys_alive = SplitKey.objects.select_for_update().filter(account=account)
    for key in keys_alive.exclude(state=SplitKey.State.DESTROYED):
        key.wrapped_d1pp = None
        key.wrapped_server_half = None
        key.state = SplitKey.State.DESTROYED
        key.destroyed_at = now
        if not key.revoked:
            key.revoked = True
            key.revoke_reason = (
                reason if reason in engine.RevokeReason._value2member_map_ else "clone"
            )
        key.save(
            update_fields=[
                "wrapped_d1pp",
                "wrapped_server_half",
                "state",
                "destroyed_at",
                "revoked",
                "revoke_reason",
            ]
        )


def _close_account(account: Account, *, actor: str, reason: str) -> None:
    """Revoke the certificates, destroy the server shares, close the account (REVOKED)."""
    for certificate in Certificate.objects.filter(split_key__account=account).exclude(
        status=Certificate.Status.REVOKED
    ):
        pki.certificate_revoke(
            certificate=certificate,
            reason=Certificate.Reason.KEY_COMPROMISE
            if reason == "clone"
            else Certificate.Reason.CESSATION_OF_OPERATION,
            actor=actor,
        )
    _destroy_keys(account, reason=reason)
    row = Account.objects.select_for_update().get(pk=account.pk)
    if row.state != Account.State.REVOKED:
        account_set_state(account=row, state=Account.State.REVOKED, actor=actor, reason=reason)
    for tx in Transaction.objects.select_for_update().filter(
        account=account, state=Transaction.State.PENDING
    ):
        _finish(tx, Transaction.Result.DOCUMENT_UNUSABLE)


@transaction.atomic
def account_close(*, account: Account, actor: str, reason: str = "closed") -> None:
    """Close an account for good (owner's request, officer, administrator)."""
    _close_account(account, actor=actor, reason=reason)


# --- transactions ----------------------------------------------------------------


def _finish(
    tx: Transaction, result: str, *, signature: bytes | None = None, interaction: str = ""
) -> None:
    tx.state = Transaction.State.COMPLETE
    tx.result = result
    tx.signature = signature
    tx.interaction_used = interaction
    tx.completed_at = timezone.now()
    tx.save(update_fields=["state", "result", "signature", "interaction_used", "completed_at"])
    _publish_on_commit(transaction_channel(tx.pk))
    if tx.group is not None:
        # Alternatives on the person's other devices: the first answer decides.
        others = Transaction.objects.filter(group=tx.group, state=Transaction.State.PENDING)
        devices = list(others.exclude(pk=tx.pk).values_list("account__device_id", flat=True))
        others.exclude(pk=tx.pk).update(
            state=Transaction.State.COMPLETE,
            result=Transaction.Result.CANCELLED,
            completed_at=tx.completed_at,
        )
        _publish_on_commit(group_channel(tx.group), *(device_channel(d) for d in devices))


@transaction.atomic
def transaction_create(
    *,
    account: Account,
    kind: str,
    rp_name: str,
    interactions: list[dict[str, str]],
    digest: bytes | None = None,
    hash_type: str = "",
    padding: str = "PKCS1v15",
    ttl: timedelta = timedelta(minutes=3),
    group: uuid.UUID | None = None,
) -> Transaction:
    """Create a transaction for the account's device and wake the device.

    If the app can show none of the RP's interactions, the transaction is created
    already finished with REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP.
    """
    purpose = (
        SplitKey.Purpose.AUTH if kind == Transaction.Kind.AUTHENTICATION else SplitKey.Purpose.SIGN
    )
    key = None
    salt = None
    vc_choices: list[str] = []
    if kind != Transaction.Kind.CERTIFICATE_CHOICE:
        if digest is None:
            raise BadRequest("A hash and its type are required.")
        try:
            digest_size = check_digest(digest, hash_type).digest_size
        except engine.InvalidInput:
            raise BadRequest(
                "The hash type is unknown or the hash length does not match."
            ) from None
        key = SplitKey.objects.filter(
            account=account, purpose=purpose, state=SplitKey.State.ACTIVE
        ).first()
        if key is None:
            raise WrongState("The account has no active key for this purpose.")
        if padding == "PSS":
            salt = secrets.token_bytes(digest_size)
        if any(i.get("type") in VC_INTERACTIONS for i in interactions):
            vc_choices = decoy_codes(verification_code(digest), 3)
    tx = Transaction.objects.create(
        account=account,
        key=key,
        kind=kind,
        rp_name=rp_name,
        hash=digest,
        hash_type=hash_type,
        padding=padding if digest is not None else "",
        salt=salt,
        interactions=interactions,
        vc_choices=vc_choices,
        expires_at=timezone.now() + ttl,
        group=group,
    )
    if kind != Transaction.Kind.CERTIFICATE_CHOICE and (
        first_supported_interaction(tx, account.device) is None
    ):
        _finish(tx, Transaction.Result.REQUIRED_INTERACTION_NOT_SUPPORTED_BY_APP)
        return tx
    _publish_on_commit(device_channel(account.device_id))
    return tx


def first_supported_interaction(tx: Transaction, device: Device) -> str | None:
    """The interaction the app uses: the first of the RP's list that the app supports."""
    supported = set(device.interactions)
    for interaction in tx.interactions:
        if interaction.get("type") in supported:
            return str(interaction["type"])
    return None


def transaction_for_device(*, device: Device, transaction_id: uuid.UUID | str) -> Transaction:
    """The device's own transaction (another device's or an unknown id: NotFound)."""
    tx = (
        Transaction.objects.select_related("account", "key")
        .filter(pk=transaction_id, account__device=device)
        .first()
    )
    if tx is None:
        raise NotFound("No such transaction.")
    return tx


def pending_for_device(device: Device) -> list[Transaction]:
    now = timezone.now()
    return list(
        Transaction.objects.select_related("account", "key")
        .filter(account__device=device, state=Transaction.State.PENDING, expires_at__gt=now)
        .order_by("created_at")[:10]
    )


def _expire_if_due(tx: Transaction) -> bool:
    if tx.state == Transaction.State.PENDING and tx.expires_at <= timezone.now():
        _finish(tx, Transaction.Result.TIMEOUT)
        return True
    return False


@transaction.atomic
def transaction_expire(*, transaction_id: uuid.UUID | str) -> None:
    """End an overdue transaction with TIMEOUT (committed on its own)."""
    tx = Transaction.objects.select_for_update().filter(pk=transaction_id).first()
    if tx is not None:
        _expire_if_due(tx)


@transaction.atomic
def transactions_expire_due() -> int:
    """The periodic sweep: every overdue transaction ends with TIMEOUT."""
    due = Transaction.objects.select_for_update(skip_locked=True).filter(
        state=Transaction.State.PENDING, expires_at__lte=timezone.now()
    )[:1000]
    count = 0
    for tx in due:
        count += _expire_if_due(tx)
    return count


def transaction_confirm(
    *,
    device: Device,
    transaction_id: uuid.UUID | str,
    interaction: str,
    envelope: object = None,
    token: bytes = b"",
    rnonce: bytes = b"",
    vc: str | None = None,
) -> Answer:
    """The user answered on the device: verify, complete the signature, record the result."""
    transaction_expire(transaction_id=transaction_id)  # a late answer finds it TIMEOUT
    return _confirm(
        device=device,
        transaction_id=transaction_id,
        interaction=interaction,
        envelope=envelope,
        token=token,
        rnonce=rnonce,
        vc=vc,
    )


@transaction.atomic
def _confirm(
    *,
    device: Device,
    transaction_id: uuid.UUID | str,
    interaction: str,
    envelope: object,
    token: bytes,
    rnonce: bytes,
    vc: str | None,
) -> Answer:
    tx = (
        Transaction.objects.select_for_update()
        .filter(pk=transaction_id, account__device=device)
        .first()
    )
    if tx is None:
        raise NotFound("No such transaction.")
    account = tx.account
    if tx.kind == Transaction.Kind.CERTIFICATE_CHOICE:
        if tx.state != Transaction.State.PENDING or _expire_if_due(tx):
            raise TransactionFinished("The transaction is finished.")
        if interaction != "certificateChoice":
            raise BadRequest(
                "A certificate choice is confirmed with the certificateChoice interaction."
            )
        _finish(tx, Transaction.Result.OK, interaction="certificateChoice")
        return Answer(status="OK")
    assert tx.key_id is not None  # every non-choice transaction has a key
    key = SplitKey.objects.select_for_update().get(pk=tx.key_id)
    if tx.state != Transaction.State.PENDING or _expire_if_due(tx):
        return _replay_or_finished(tx, key, envelope=envelope, token=token, rnonce=rnonce)
    expected = first_supported_interaction(tx, device)
    if interaction != expected:
        raise BadRequest("Use the first interaction of the list that this app supports.")
    if interaction in VC_INTERACTIONS and vc != verification_code(bytes(tx.hash or b"")):
        _finish(tx, Transaction.Result.WRONG_VC, interaction=interaction)
        return Answer(status="WRONG_VC")
    s1_prime = _decrypt_s1p(envelope, aad=f"transaction:{tx.pk}", key=key)
    outcome = _sign(
        key,
        digest=bytes(tx.hash or b""),
        hash_alg=tx.hash_type,
        padding=tx.padding,
        salt=None if tx.salt is None else bytes(tx.salt),
        s1_prime=s1_prime,
        token=token,
        rnonce=rnonce,
        now=timezone.now(),
    )
    answer = _answer(outcome)
    result = {
        "OK": Transaction.Result.OK,
        "WRONG_PIN": Transaction.Result.WRONG_PIN,
        "LOCKED": Transaction.Result.LOCKED,
        "REVOKED": Transaction.Result.REVOKED,
        "CLONE_DETECTED": Transaction.Result.CLONE_DETECTED,
    }[answer.status]
    _finish(tx, result, signature=outcome.signature, interaction=interaction)
    actor = f"device:{device.pk}"
    if (
        outcome.status in (engine.OutcomeStatus.WRONG_PIN, engine.OutcomeStatus.CLONE)
        or outcome.revoke
    ):
        audit_record(
            actor=actor,
            action=f"key.{outcome.status.value}",
            object_type="signing.SplitKey",
            object_id=key.pk,
            data={
                "fails": outcome.fails,
                "transaction": str(tx.pk),
                "locked_until": outcome.locked_until.isoformat() if outcome.locked_until else None,
            },
        )
    if outcome.revoke:
        reason = "clone" if outcome.status == engine.OutcomeStatus.CLONE else "pin_tries"
        _close_account(account, actor=actor, reason=reason)
    return answer


def _replay_or_finished(
    tx: Transaction, key: SplitKey, *, envelope: object, token: bytes, rnonce: bytes
) -> Answer:
    """A finished transaction: the identical answer to a retransmit, else 409."""
    if key.last_rnonce_hash is not None and isinstance(rnonce, bytes) and rnonce:
        try:
            s1_prime = _decrypt_s1p(envelope, aad=f"transaction:{tx.pk}", key=key)
        except BadRequest:
            raise TransactionFinished("The transaction is finished.") from None
        try:
            request = engine.SignRequest(
                digest=bytes(tx.hash or b""),
                hash_alg=tx.hash_type,
                padding=tx.padding,
                s1_prime=s1_prime,
                token=token,
                rnonce=rnonce,
                salt=None if tx.salt is None else bytes(tx.salt),
            )
        except engine.InvalidInput:
            raise TransactionFinished("The transaction is finished.") from None
        decision = engine.classify_retransmit(
            engine.RetransmitRecord(
                bytes(key.last_rnonce_hash),
                bytes(key.last_request_digest or b""),
                bytes(key.last_response or b""),
            ),
            rnonce,
            request.request_digest(),
        )
        if decision.kind == engine.Retransmit.REPLAY and decision.response is not None:
            return _answer(engine.Outcome.from_bytes(decision.response, replayed=True))
    raise TransactionFinished("The transaction is finished.")


def transaction_refuse(
    *, device: Device, transaction_id: uuid.UUID | str, interaction: str | None
) -> Answer:
    """The user cancelled: on a named screen (``USER_REFUSED_<screen>``), or in general
    (``interaction`` None: ``USER_REFUSED``, v1's only refusal)."""
    transaction_expire(transaction_id=transaction_id)
    return _refuse(device=device, transaction_id=transaction_id, interaction=interaction)


@transaction.atomic
def _refuse(*, device: Device, transaction_id: uuid.UUID | str, interaction: str | None) -> Answer:
    tx = (
        Transaction.objects.select_for_update()
        .filter(pk=transaction_id, account__device=device)
        .first()
    )
    if tx is None:
        raise NotFound("No such transaction.")
    if tx.state != Transaction.State.PENDING or _expire_if_due(tx):
        raise TransactionFinished("The transaction is finished.")
    if interaction is None:
        _finish(tx, Transaction.Result.USER_REFUSED)
        return Answer(status="REFUSED")
    if interaction not in REFUSAL_RESULTS:
        raise BadRequest("Unknown interaction.")
    _finish(tx, REFUSAL_RESULTS[interaction], interaction=interaction)
    return Answer(status="REFUSED")


@transaction.atomic
def key_refresh(
    *, device: Device, document_number: str, purpose: str, token: bytes, rnonce: bytes
) -> Answer:
    """RefreshOTP: rotate the one-time token without signing (clone detection when idle)."""
    key = (
        SplitKey.objects.select_for_update()
        .filter(account__device=device, account__document_number=document_number, purpose=purpose)
        .first()
    )
    if key is None:
        raise NotFound("No such key.")
    try:
        state, outcome = engine.refresh_token(_state(key), token=token, rnonce=rnonce)
    except engine.InvalidInput as exc:
        raise BadRequest(f"Invalid refresh: {exc}") from None
    _save_state(key, state)
    status = {
        engine.OutcomeStatus.TOKEN_REFRESHED: "OK",
        engine.OutcomeStatus.TOKEN_MISMATCH: "TOKEN_MISMATCH",
        engine.OutcomeStatus.REVOKED: "REVOKED",
    }.get(outcome.status)
    if status is None:
        raise BadRequest(
            "The retransmit nonce was used for another request.", code="rnonce_conflict"
        )
    return Answer(status=status, token=outcome.new_token)


def key_summary(key: SplitKey, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    locked = key.locked_until is not None and key.locked_until > now
    state = "REVOKED" if key.revoked else ("LOCKED" if locked else key.state)
    return {
        "state": state,
        "triesLeft": max(PIN_TRIES_BEFORE_REVOKE - key.fails, 0),
        "lockedUntil": key.locked_until.isoformat().replace("+00:00", "Z")
        if locked and key.locked_until
        else None,
    }


# --- suspending an account by its owner -------------------------------------------


@transaction.atomic
def account_suspend(*, account: Account, actor: str, reason: str = "suspended by owner") -> Account:
    """Suspend an ACTIVE account: no transactions, certificates on hold until resumed.

    OCSP and the CRL then say revoked with reason certificateHold, so a relying party
    that checks a held certificate refuses it too; waiting transactions end as
    DOCUMENT_UNUSABLE. An account locked by an administrator cannot be suspended (nor
    resumed) by its owner: the transition rules of ``Account`` decide.
    """
    row = account_set_state(
        account=account, state=Account.State.SUSPENDED, actor=actor, reason=reason
    )
    for certificate in Certificate.objects.filter(
        split_key__account=row, status=Certificate.Status.GOOD
    ).order_by("pk"):
        pki.certificate_hold(certificate=certificate, actor=actor)
    for tx in Transaction.objects.select_for_update().filter(
        account=row, state=Transaction.State.PENDING
    ):
        _finish(tx, Transaction.Result.DOCUMENT_UNUSABLE)
    return row


@transaction.atomic
def account_resume(*, account: Account, actor: str, reason: str = "resumed by owner") -> Account:
    """Undo ``account_suspend``: certificates released from hold, the account ACTIVE."""
    from accounts.services import InvalidTransition

    row = Account.objects.select_for_update().get(pk=account.pk)
    if row.state != Account.State.SUSPENDED:
        raise InvalidTransition("Only a suspended account can be resumed.")
    # Only the holds the suspension placed (at or after it began; the CA records whole
    # seconds): a certificate the CA held earlier for a reason of its own stays on hold.
    for certificate in Certificate.objects.filter(
        split_key__account=row,
        status=Certificate.Status.ON_HOLD,
        revoked_at__gte=row.state_changed_at.replace(microsecond=0),
    ).order_by("pk"):
        pki.certificate_release(certificate=certificate, actor=actor)
    return account_set_state(account=row, state=Account.State.ACTIVE, actor=actor, reason=reason)
