"""Server-side key material: the pool of server halves, wrapping, the transport key."""

from __future__ import annotations

import functools
import hashlib

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.db import IntegrityError, transaction

from pki.keystore import get_keystore
from signing import engine
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
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
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


@functools.cache
def transport_public_key_der() -> bytes:
    """The transport key's public half, read once per process: the key never changes while
    the service runs (a new one would need every app to fetch it), so every confirmation
    is spared one query. :func:`forget_process_keys` drops it (tests reset the database)."""
    row = ServiceKey.objects.filter(name=TRANSPORT_KEY).first() or _create_service_key(
        TRANSPORT_KEY
    )
    return bytes(row.public_key)


def forget_process_keys() -> None:
    """Forget the keys this process read (as a restart would): after a database reset."""
    transport_public_key_der.cache_clear()
    _transport_private_key.cache_clear()


@functools.lru_cache(maxsize=4)
def _transport_private_key(public_der: bytes) -> ec.EllipticCurvePrivateKey:
    row = ServiceKey.objects.get(name=TRANSPORT_KEY, public_key=public_der)
    pkcs8 = get_keystore().unwrap(
        bytes(row.wrapped_private_key), context=_service_key_context(TRANSPORT_KEY)
    )
    key = serialization.load_der_private_key(pkcs8, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def transport_private_key() -> ec.EllipticCurvePrivateKey:
    """The transport key, unwrapped once per process (like a TLS key)."""
    return _transport_private_key(transport_public_key_der())
