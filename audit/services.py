"""Writing and verifying the audit chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.models import AuditHead, AuditRecord

GENESIS_HASH = "0" * 64


def _canonical(
    *,
    sequence: int,
    created_at: datetime,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    source_ip: str | None,
    data: Mapping[str, Any],
) -> bytes:
    return json.dumps(
        [
            sequence,
            created_at.isoformat(timespec="microseconds"),
            actor,
            action,
            object_type,
            object_id,
            source_ip,
            data,
        ],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")


def _chain_hash(previous_hash: str, canonical_row: bytes) -> str:
    return hashlib.sha256(previous_hash.encode("ascii") + canonical_row).hexdigest()


def audit_record(
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    data: Mapping[str, Any] | None = None,
    source_ip: str | None = None,
) -> AuditRecord:
    """Append one record to the chain, inside the caller's transaction.

    Call it from the service that changes state, in the same ``transaction.atomic``
    block, so the change and its record commit together or not at all (fail closed).
    ``data`` must be JSON-serialisable and must never hold a secret.
    """
    payload = dict(data or {})
    # Round-trip now so the stored JSON hashes exactly like the verifier will read it.
    payload = json.loads(json.dumps(payload, sort_keys=True))
    with transaction.atomic():
        AuditHead.objects.get_or_create(id=1)
        head = AuditHead.objects.select_for_update().get(id=1)
        sequence = head.sequence + 1
        created_at = timezone.now()
        canonical = _canonical(
            sequence=sequence,
            created_at=created_at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            source_ip=source_ip,
            data=payload,
        )
        record_hash = _chain_hash(head.record_hash, canonical)
        record = AuditRecord.objects.create(
            sequence=sequence,
            created_at=created_at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            source_ip=source_ip,
            data=payload,
            previous_hash=head.record_hash,
            record_hash=record_hash,
        )
        head.sequence = sequence
        head.record_hash = record_hash
        head.save(update_fields=["sequence", "record_hash"])
    return record


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the stored chain disagrees with itself."""

    sequence: int
    reason: str
    #: The head counts more records than were read (a truncation, or a record committed
    #: between the two reads).
    head_ahead: bool = False


def _records() -> Iterator[AuditRecord]:
    return AuditRecord.objects.order_by("id").iterator(chunk_size=2000)


def audit_chain_verify() -> ChainBreak | None:
    """Recompute the chain in insertion order; return the first break, or None.

    Rows are read in primary-key (insertion) order, so a reordering of sequence
    numbers shows as well as an edit, a deletion or a truncation of the tail
    (the head row remembers the last sequence and hash).

    The records and the head are two reads: a record committed between them (the service
    keeps writing while it is verified) shows as a head ahead of the log. That is read
    again, a few times; a truncated log stays short and is reported.
    """
    broken = _verify_once()
    for _ in range(_REREADS):
        if broken is None or not broken.head_ahead:
            break
        broken = _verify_once()
    return broken


#: How often a head ahead of the log is read again before it is reported.
_REREADS = 3


def _verify_once() -> ChainBreak | None:
    previous_hash = GENESIS_HASH
    expected = 1
    for record in _records():
        if record.sequence != expected:
            return ChainBreak(expected, f"expected sequence {expected}, found {record.sequence}")
        if record.previous_hash != previous_hash:
            return ChainBreak(record.sequence, "previous hash does not match the record before")
        canonical = _canonical(
            sequence=record.sequence,
            created_at=record.created_at,
            actor=record.actor,
            action=record.action,
            object_type=record.object_type,
            object_id=record.object_id,
            source_ip=record.source_ip,
            data=record.data,
        )
        if _chain_hash(previous_hash, canonical) != record.record_hash:
            return ChainBreak(record.sequence, "record content does not match its hash")
        previous_hash = record.record_hash
        expected += 1
    head = AuditHead.objects.filter(id=1).first()
    last = expected - 1
    if head is not None and (head.sequence != last or head.record_hash != previous_hash):
        return ChainBreak(
            last + 1,
            f"head says {head.sequence} records; the log has {last}",
            head_ahead=head.sequence > last,
        )
    return None
