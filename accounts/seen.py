"""When and from where a device was last seen (``Device.last_seen_at``, ``last_ip``).

Every signed app request records it (``api/app/auth.py``), and the RP API answers
``deviceIpAddress`` from it when the RP asked for the device's address.

* With Redis (``REDIS_URL``; the shared cache is Redis): the request writes no SQL. One
  script, one round trip, remembers the request's nonce (``SET NX EX``, as the cache's
  ``add`` did) and, only if the nonce is new, sets this device's field in one hash,
  ``<namespace>:device-seen`` → ``"<unix time> <address>"``. A replay must not record its
  sender's address as the device's. The beat task ``accounts.tasks.flush_devices_seen``
  copies the hash into the rows every minute; :func:`device_last_ip` reads the hash first,
  so an RP sees the current address at once; the admin's and the portal's "last seen"
  (the row) may be up to a minute late.
* Embedded (no ``REDIS_URL``: one process, a LocMem cache, eager tasks): the nonce goes
  into the cache and the row is written in the request, at most once a minute per device
  or when its address changes, as before: one process has no scale to protect.

The flush is safe in two processes at once and after a crash half-way: it removes a field
only if it still holds the value just written (a newer request's value stays for the next
flush), and a row takes a time only if it is newer than the one it has. It does not
RENAME the hash away first: between that and the rows' update an RP would find the address
in neither place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import redis
from django.conf import settings
from django.core.cache import cache
from django.db.models import Case, DateTimeField, F, GenericIPAddressField, Q, Value, When
from django.utils import timezone
from redis.commands.core import Script

from accounts.models import Device
from core.redisclient import shared_client

#: The embedded mode writes a device's row at most this often (unless its address changes).
SEEN_RESOLUTION = timedelta(minutes=1)
#: Fields the flush reads, writes and removes at a time.
FLUSH_BATCH = 500

#: A hash no request has touched this long goes (records no flush took: beat was down).
SEEN_KEEP_SECONDS = 86400

# KEYS: the nonce's cache key, the hash. ARGV: seconds to remember the nonce, the device
# id, "<time> <address>", seconds to keep the hash. 1 for a new nonce (recorded), 0 for a
# replay (nothing written).
_RECORD = """
if redis.call('SET', KEYS[1], 1, 'NX', 'EX', ARGV[1]) then
  redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[4])
  return 1
end
return 0
"""
# KEYS: the hash. ARGV: field, value, field, value … Removes a field still holding the value.
_FORGET = """
local removed = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    removed = removed + redis.call('HDEL', KEYS[1], ARGV[i])
  end
end
return removed
"""


_scripts: dict[tuple[int, str], Script] = {}


def _script(client: redis.Redis, source: str) -> Script:
    """The script object for this client, made once (it hashes the source: EVALSHA)."""
    key = (id(client), source)
    script = _scripts.get(key)
    if script is None:
        script = _scripts[key] = client.register_script(source)
    return script


def seen_key() -> str:
    return cache.make_key(f"{settings.CACHE_NAMESPACE}:device-seen")


def device_seen_record(
    *, device: Device, address: str | None, nonce_key: str, nonce_seconds: int
) -> bool:
    """Remember the request's nonce (a cache key) and record the device as seen now from
    ``address``; False, recording nothing, when the nonce was already remembered."""
    client = shared_client()
    if client is None:
        if not cache.add(nonce_key, 1, timeout=nonce_seconds):
            return False
        _save_to_row(device, address)
        return True
    record = _script(client, _RECORD)
    value = f"{time.time():.3f} {address or ''}"
    keys = [cache.make_key(nonce_key), seen_key()]
    args: list[str | int] = [nonce_seconds, str(device.pk), value, SEEN_KEEP_SECONDS]
    return bool(record(keys=keys, args=args, client=client))


def _save_to_row(device: Device, address: str | None) -> None:
    now = timezone.now()
    stale = device.last_seen_at is None or now - device.last_seen_at > SEEN_RESOLUTION
    address = address or None
    if stale or device.last_ip != address:
        # One write a minute is enough for "last seen"; not one per long poll.
        Device.objects.filter(pk=device.pk).update(last_seen_at=now, last_ip=address)


def device_last_ip(device: Device) -> str | None:
    """The address of the device's latest request: the Redis record when there is one
    (not yet flushed), else the row's. A Redis read only when Redis is configured."""
    client = shared_client()
    if client is not None:
        value = client.hget(seen_key(), str(device.pk))
        if isinstance(value, bytes):
            return _parse(value)[1]
    return device.last_ip


def _parse(value: bytes) -> tuple[datetime, str | None]:
    stamp, _, address = value.decode().partition(" ")
    return datetime.fromtimestamp(float(stamp), tz=UTC), address or None


def devices_seen_flush() -> int:
    """Copy the Redis records into the devices' rows and remove them; the number of
    records read (0 without Redis, or with nothing to flush). A device deleted meanwhile
    is skipped; its record goes."""
    client = shared_client()
    if client is None:
        return 0
    key, forget, flushed = seen_key(), client.register_script(_FORGET), 0
    for batch in _batches(client.hscan_iter(key, count=FLUSH_BATCH)):
        _write_rows(batch)
        forget(keys=[key], args=[item for pair in batch for item in pair], client=client)
        flushed += len(batch)
    return flushed


def _batches(pairs: Iterator[tuple[bytes, bytes]]) -> Iterator[list[tuple[bytes, bytes]]]:
    batch: list[tuple[bytes, bytes]] = []
    for pair in pairs:
        batch.append(pair)
        if len(batch) == FLUSH_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _write_rows(batch: list[tuple[bytes, bytes]]) -> None:
    """One UPDATE for the batch; a row keeps a time newer than the record's."""
    seen: dict[UUID, tuple[datetime, str | None]] = {}
    for field, value in batch:
        try:
            seen[UUID(field.decode())] = _parse(value)
        except (ValueError, UnicodeDecodeError, OverflowError):
            continue  # not ours to write: removed with the rest
    if not seen:
        return

    times, addresses = [], []
    for pk, (when, address) in seen.items():
        newer = Q(pk=pk) & (Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=when))
        times.append(When(newer, then=Value(when, DateTimeField())))
        addresses.append(When(newer, then=Value(address, GenericIPAddressField())))
    Device.objects.filter(pk__in=seen).update(
        last_seen_at=Case(*times, default=F("last_seen_at"), output_field=DateTimeField()),
        last_ip=Case(*addresses, default=F("last_ip"), output_field=GenericIPAddressField()),
    )
