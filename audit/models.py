"""The append-only, hash-chained audit log (docs/design.md §6)."""

from __future__ import annotations

from django.db import models


class AuditRecord(models.Model):
    """One security-relevant event. Rows are only ever inserted (``audit.services``).

    ``sequence`` is gap-free from 1 and ``record_hash = SHA-256(previous_hash ‖ canonical
    row)``, so an edited, deleted, reordered or truncated row breaks the chain, which
    ``manage.py verify_audit_chain`` reports.
    """

    sequence = models.PositiveBigIntegerField(unique=True, editable=False)
    created_at = models.DateTimeField(editable=False)
    actor = models.CharField(max_length=200, editable=False)
    action = models.CharField(max_length=100, editable=False)
    object_type = models.CharField(max_length=100, editable=False)
    object_id = models.CharField(max_length=200, editable=False)
    source_ip = models.GenericIPAddressField(null=True, blank=True, editable=False)
    data = models.JSONField(default=dict, editable=False)
    previous_hash = models.CharField(max_length=64, editable=False)
    record_hash = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["sequence"]
        # For the admin: its date hierarchy (min/max, ranges) and its exact searches.
        indexes = [
            models.Index(fields=["created_at"], name="audit_created_at"),
            models.Index(fields=["actor"], name="audit_actor"),
            models.Index(fields=["object_id"], name="audit_object_id"),
        ]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.action} {self.object_type}:{self.object_id}"


class AuditHead(models.Model):
    """The single row that serialises writers: the last sequence and hash.

    Appending locks this row (``select_for_update``), so parallel writers never fork
    the chain and the sequence has no gaps.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    sequence = models.PositiveBigIntegerField(default=0)
    record_hash = models.CharField(max_length=64, default="0" * 64)

    def __str__(self) -> str:
        return f"audit head #{self.sequence}"
