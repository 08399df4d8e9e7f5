"""Server-side key material: the pool of server halves, wrapping, the transport key."""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from pki.keystore import get_keystore
from signing import engine
from signing.engine import rotation, transport
from signing.models import ServerKeyHalf, ServiceKey, SplitKey

TRANSPORT_KEY = "transport"


def _modulus_id(modulus_hex: str) -> bytes:
    # The wrap context binds a blob to its modulus; a digest keeps it short.
    return hashlib.sha256(modulus_hex.encode()).hexdigest().encode()


def _half_context(n2_hex: str) -> bytes:
    return b"serverhalf:" + _modulus_id(n2_hex)


def _d1pp_context(key: SplitKey) -> bytes:
    return b"d1pp:" + _modulus_id(key.n1)


def _service_key_context(name: str) -> bytes:
    return f"servicekey:{name}".encode()


def pool_add(*, bits: int) -> ServerKeyHalf:
    """Generate one server half (the slow part: two primes) and put it, wrapped, in the pool."""
    half = engine.generate_server_half(bits)
    n2_hex = format(half.n2, "x")
    wrapped = get_keystore().wrap(half.to_bytes(), context=_half_context(n2_hex))
    return ServerKeyHalf.objects.create(bits=bits, n2=n2_hex, wrapped=wrapped)


def pool_fill(*, bits: int, target: int) -> int:
    """Top the pool up to ``target`` halves of ``bits``; returns how many were added."""
    added = 0
    while ServerKeyHalf.objects.filter(bits=bits).count() < target:
        pool_add(bits=bits)
        added += 1
    return added


def pool_take(*, bits: int) -> tuple[str, bytes]:
    """Take one half out of the pool (or make one if it is empty): (n2 hex, wrapped blob).

    ``skip_locked`` lets concurrent registrations take different halves without waiting.
    Must run inside the caller's transaction, so a failed registration puts it back.
    """
    row = (
        ServerKeyHalf.objects.select_for_update(skip_locked=True)
        .filter(bits=bits)
        .order_by("id")
        .first()
    )
    if row is None:
        row = pool_add(bits=bits)
    n2_hex, wrapped = row.n2, bytes(row.wrapped)
    row.delete()
    return n2_hex, wrapped


def wrap_d1pp(key: SplitKey, d1pp: int) -> bytes:
    length = (key.bits + 7) // 8
    return get_keystore().wrap(d1pp.to_bytes(length, "big"), context=_d1pp_context(key))


def key_material(key: SplitKey) -> engine.KeyMaterial:
    """Unwrap d1″ and the server half of one key (only inside a locked operation)."""
    store = get_keystore()
    if key.wrapped_d1pp is None or key.wrapped_server_half is None:
        raise engine.InvalidKey("the key has no server share")
    d1pp = int.from_bytes(store.unwrap(bytes(key.wrapped_d1pp), context=_d1pp_context(key)), "big")
    half = engine.ServerKeyHalf.from_bytes(
        store.unwrap(bytes(key.wrapped_server_half), context=_half_context(key.n2))
    )
    composite = engine.composite_public_key(int(key.n1, 16), half.n2)
    return engine.KeyMaterial(composite=composite, d1_double_prime=d1pp, server_half=half)


def _create_service_key(name: str) -> ServiceKey:
    private = ec.generate_private_key(ec.SECP256R1())
    pkcs8 = _pkcs8(private)
    public = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    wrapped = get_keystore().wrap(pkcs8, context=_service_key_context(name))
    try:
        with transaction.atomic():
            return ServiceKey.objects.create(
                name=name, public_key=public, wrapped_private_key=wrapped
            )
    except IntegrityError:  # another process made it first
        return ServiceKey.objects.get(name=name)


# --- the transport key ring (docs/app-api.md §5, §9.2) ---------------------------------
#
# The transport keys are ServiceKey rows named "transport" (the first) and
# "transport.<key id>" (each rotation), oldest first by id. The newest one without
# ``retire_at`` is the current key: new registrations pin it and the app encrypts s1′ to
# it. A rotated-out key still decrypts until its ``retire_at`` (the grace period); then it
# is refused, and ``transport_keys_retire`` destroys its wrapped private key.
#
# Every web process keeps the ring in memory, so a confirmation costs no query. A rotation
# made in another process (or node) reaches this one when its copy is older than
# KEYRING_TTL, or at once when an envelope names a key id it does not know. The end of a
# grace period needs no reload: ``retire_at`` is in the cached copy and read per use.

#: Seconds a process trusts its copy of the transport key ring.
KEYRING_TTL = 60.0
TRANSPORT_KEYS = Q(name=TRANSPORT_KEY) | Q(name__startswith=f"{TRANSPORT_KEY}.")


class TransportKeyRetired(Exception):
    """An envelope names a transport key that is retired or unknown to the service."""


@dataclass(frozen=True)
class TransportKey:
    """One transport key as a process knows it (never its private half)."""

    name: str
    key_id: str
    public_der: bytes
    endorsement: bytes | None
    retire_at: datetime | None

    def usable(self, now: datetime) -> bool:
        return self.retire_at is None or now < self.retire_at


@dataclass(frozen=True)
class TransportKeyRing:
    keys: tuple[TransportKey, ...]  # oldest first; the last is the current key
    loaded_at: float

    @property
    def current(self) -> TransportKey:
        return self.keys[-1]

    def find(self, kid: str) -> TransportKey | None:
        return next((k for k in self.keys if k.key_id == kid), None)


_ring: TransportKeyRing | None = None
_ring_lock = threading.Lock()


def _load_ring() -> TransportKeyRing:
    fields = ("name", "public_key", "endorsement", "retire_at")
    rows = list(ServiceKey.objects.filter(TRANSPORT_KEYS).order_by("id").values_list(*fields))
    if not rows:
        first = _create_service_key(TRANSPORT_KEY)
        rows = [(first.name, first.public_key, first.endorsement, first.retire_at)]
    keys = tuple(
        TransportKey(
            name=name,
            key_id=rotation.key_id(bytes(der)),
            public_der=bytes(der),
            endorsement=None if endorsement is None else bytes(endorsement),
            retire_at=retire_at,
        )
        for name, der, endorsement, retire_at in rows
    )
    # The current key is the newest one not rotated out (a rotation sets retire_at on the
    # old one and adds the new one in one transaction: it is the last row).
    return TransportKeyRing(keys=keys, loaded_at=time.monotonic())


def transport_key_ring(*, reload: bool = False) -> TransportKeyRing:
    """This process's copy of the transport keys (read again after KEYRING_TTL)."""
    global _ring
    with _ring_lock:
        ring = _ring
        if reload or ring is None or time.monotonic() - ring.loaded_at > KEYRING_TTL:
            ring = _ring = _load_ring()
        return ring


def transport_public_key_der() -> bytes:
    """The current transport key's public half (what a registration pins)."""
    return transport_key_ring().current.public_der


def forget_process_keys() -> None:
    """Forget the keys this process read (as a restart would): after a database reset."""
    global _ring
    with _ring_lock:
        _ring = None
    _transport_private_key.cache_clear()


@functools.lru_cache(maxsize=8)
def _transport_private_key(name: str, public_der: bytes) -> ec.EllipticCurvePrivateKey:
    row = ServiceKey.objects.get(name=name, public_key=public_der)
    if not row.wrapped_private_key:
        raise TransportKeyRetired(f"the transport key {name} is retired")
    pkcs8 = get_keystore().unwrap(
        bytes(row.wrapped_private_key), context=_service_key_context(name)
    )
    key = serialization.load_der_private_key(pkcs8, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def transport_private_key() -> ec.EllipticCurvePrivateKey:
    """The current transport key, unwrapped once per process (like a TLS key)."""
    current = transport_key_ring().current
    return _transport_private_key(current.name, current.public_der)


def transport_decrypt_share(envelope: object, aad: bytes, length: int) -> int:
    """s1′ from an envelope sealed to one of the usable transport keys.

    With ``kid`` (the key id, optional) the envelope names its key: an unknown one makes
    this process read the ring again (another node may have rotated); a retired or still
    unknown one raises :class:`TransportKeyRetired`. Without it, the current key is tried,
    then the keys in their grace period, newest first (AES-GCM tells a wrong key apart).
    Engine errors (a malformed envelope) pass through.
    """
    now = timezone.now()
    ring = transport_key_ring()
    if isinstance(envelope, Mapping) and "kid" in envelope:
        kid = envelope["kid"]
        if not isinstance(kid, str) or len(kid) != 2 * rotation.KEY_ID_BYTES:
            raise engine.TransportError("kid must be a transport key id (16 hex digits)")
        key = ring.find(kid) or transport_key_ring(reload=True).find(kid)
        if key is None or not key.usable(now):
            raise TransportKeyRetired(f"the transport key {kid} is retired or unknown")
        body = {name: value for name, value in envelope.items() if name != "kid"}
        return transport.decrypt_share(
            body, _transport_private_key(key.name, key.public_der), aad, length
        )
    failure = engine.TransportError("envelope does not decrypt with any usable transport key")
    for key in reversed(ring.keys):
        if not key.usable(now):
            continue
        try:
            private = _transport_private_key(key.name, key.public_der)
        except TransportKeyRetired:  # destroyed by another process meanwhile
            continue
        try:
            return transport.decrypt_share(envelope, private, aad, length)
        except engine.TransportError as exc:
            failure = exc
    raise failure


def transport_key_rotate(*, grace: timedelta, actor: str) -> TransportKey:
    """Make a new current transport key, endorsed by the current one, which keeps
    decrypting for ``grace`` (then it is refused; :func:`transport_keys_retire` destroys
    it). Audited. Returns the new key."""
    if grace < timedelta(0):
        raise ValueError("the grace period cannot be negative")
    transport_key_ring()  # the first key exists before it can be rotated out
    now = timezone.now()
    with transaction.atomic():
        rows = list(ServiceKey.objects.select_for_update().filter(TRANSPORT_KEYS).order_by("id"))
        current = rows[-1]
        previous = _unwrap_service_key(current)
        private = ec.generate_private_key(ec.SECP256R1())
        public = transport.public_key_der(private.public_key())
        new_id = rotation.key_id(public)
        row = ServiceKey.objects.create(
            name=f"{TRANSPORT_KEY}.{new_id}",
            public_key=public,
            wrapped_private_key=get_keystore().wrap(
                _pkcs8(private), context=_service_key_context(f"{TRANSPORT_KEY}.{new_id}")
            ),
            endorsement=rotation.endorse_transport_key(previous, public),
        )
        current.retire_at = now + grace
        current.save(update_fields=["retire_at"])
        # A key still in an earlier grace period does not outlive the one just started.
        ServiceKey.objects.filter(TRANSPORT_KEYS, retire_at__gt=current.retire_at).update(
            retire_at=current.retire_at
        )
        audit_record(
            actor=actor,
            action="transport_key.rotated",
            object_type="signing.ServiceKey",
            object_id=row.pk,
            data={
                "key_id": new_id,
                "previous_key_id": rotation.key_id(bytes(current.public_key)),
                "previous_retire_at": current.retire_at.isoformat(),
            },
        )
    forget_process_keys()
    return transport_key_ring().current


def transport_keys_retire(*, actor: str, now: datetime | None = None) -> list[str]:
    """Destroy the private halves of the transport keys whose grace period is over; returns
    their key ids. The public halves stay: they link the endorsement chain (§9.2)."""
    now = now or timezone.now()
    retired = []
    with transaction.atomic():
        rows = ServiceKey.objects.select_for_update().filter(
            TRANSPORT_KEYS, retire_at__lte=now, retired_at__isnull=True
        )
        for row in rows:
            row.wrapped_private_key = b""
            row.retired_at = now
            row.save(update_fields=["wrapped_private_key", "retired_at"])
            kid = rotation.key_id(bytes(row.public_key))
            retired.append(kid)
            audit_record(
                actor=actor,
                action="transport_key.retired",
                object_type="signing.ServiceKey",
                object_id=row.pk,
                data={"key_id": kid},
            )
    if retired:
        forget_process_keys()
    return retired


def _pkcs8(private: ec.EllipticCurvePrivateKey) -> bytes:
    return private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _unwrap_service_key(row: ServiceKey) -> ec.EllipticCurvePrivateKey:
    pkcs8 = get_keystore().unwrap(
        bytes(row.wrapped_private_key), context=_service_key_context(row.name)
    )
    key = serialization.load_der_private_key(pkcs8, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key
