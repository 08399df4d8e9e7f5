"""Relying parties and their RP API sessions (the RP API's own state)."""

from __future__ import annotations

import ipaddress
import uuid

from django.core.exceptions import ValidationError
from django.db import models


def validate_networks(value: object) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError("A list of IP addresses or CIDR networks.")
    for item in value:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValidationError(f"Not an IP address or network: {item}") from None


def networks_allow(networks: object, address: str) -> bool:
    """Whether ``address`` lies in one of ``networks`` (a relying party's allowed list)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for network in networks if isinstance(networks, list) else ():
        try:
            if ip in ipaddress.ip_network(network, strict=False):
                return True
        except (ValueError, TypeError):
            continue
    return False


class RelyingParty(models.Model):
    """A bank or e-service allowed to call the RP API.

    It authenticates with its UUID and name (case-insensitive) from an allowed source
    address; several UUIDs may carry the same name (the demo's DEMO).
    """

    uuid = models.UUIDField(unique=True, default=uuid.uuid4)
    name = models.CharField(
        max_length=32, help_text="relyingPartyName; compared case-insensitively"
    )
    display_name = models.CharField(max_length=100, help_text="Shown to the user in the app")
    allowed_networks = models.JSONField(
        default=list,
        validators=[validate_networks],
        help_text='Source addresses, e.g. ["192.0.2.10", "2001:db8::/48"]; empty = none',
    )
    can_authenticate = models.BooleanField(default=True)
    can_sign = models.BooleanField(default=True)
    can_choose_certificate = models.BooleanField(default=True)
    allow_advanced = models.BooleanField(
        default=False, help_text="May ask for ADVANCED (non-qualified) accounts"
    )
    can_see_device_ip = models.BooleanField(default=False)
    session_starts_per_second = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Session starts per second across all nodes (429 beyond); empty = the "
        "platform's default (SMARTID_RP_STARTS_PER_SECOND)",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "relying party"
        verbose_name_plural = "relying parties"

    def __str__(self) -> str:
        return f"{self.display_name} ({self.name})"

    def allows_address(self, address: str) -> bool:
        return networks_allow(self.allowed_networks, address)


class RpSession(models.Model):
    """One RP API session: an authentication, signature or certificate choice.

    The user-facing work is one or more ``signing.Transaction`` rows whose ``group`` is
    this session's id (several when the person has several eligible accounts: the first
    device to answer decides).
    """

    class Kind(models.TextChoices):
        AUTHENTICATION = "AUTHENTICATION"
        SIGNATURE = "SIGNATURE"
        CERTIFICATE_CHOICE = "CERTIFICATE_CHOICE"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    relying_party = models.ForeignKey(
        RelyingParty, on_delete=models.PROTECT, related_name="sessions"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    api_version = models.PositiveSmallIntegerField()
    fingerprint = models.CharField(max_length=64, db_index=True)
    hash_type = models.CharField(max_length=6, blank=True)
    certificate_level = models.CharField(max_length=10)
    share_device_ip = models.BooleanField(default=False)
    ignored_properties = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # --- RP API v3 (docs/spec/rp-api.md §5); blank for v1/v2 sessions ---------------------
    class Flow(models.TextChoices):
        DEVICE_LINK = "DEVICE_LINK"
        NOTIFICATION = "NOTIFICATION"
        NONE = "NONE"  # signature/certificate/{docNo}: no user interaction

    flow = models.CharField(max_length=12, choices=Flow.choices, blank=True)
    #: The target as the RP named it ("etsi"/"document" and the value); both blank for an
    #: anonymous device link, where the account is whoever opens the link.
    target_kind = models.CharField(max_length=8, blank=True)
    target = models.CharField(max_length=100, blank=True)
    #: Device links: the public token in every link and the HMAC key of their authCode.
    session_token = models.CharField(max_length=32, unique=True, null=True, blank=True)
    session_secret = models.BinaryField(null=True, editable=False)
    #: ACSP_V2 / RAW_DIGEST_SIGNATURE and its parameters as received (rpChallenge or
    #: digest, signatureAlgorithm, hashAlgorithm, ...).
    signature_protocol = models.CharField(max_length=24, blank=True)
    protocol_parameters = models.JSONField(default=dict)
    #: ``interactions`` exactly as received: a Base64 string, never re-serialised (the
    #: authCode and the ACSP_V2 payload are computed over these very characters).
    interactions = models.TextField(blank=True)
    initial_callback_url = models.CharField(max_length=1800, blank=True)
    nonce = models.CharField(max_length=30, blank=True)
    capabilities = models.JSONField(default=list)
    #: The verification code the server chose for a signature by notification.
    vc = models.CharField(max_length=4, blank=True)
    linked_session = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    #: Device links are opened once, by one device.
    opened_at = models.DateTimeField(null=True, blank=True)
    opened_by = models.ForeignKey(
        "accounts.Device", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.kind} session {self.id}"


class UsageMonth(models.Model):
    """A calendar month (UTC) of RP usage: when it was last counted, and whether its
    sessions are gone (purged after the retention period), so its counts are final."""

    month = models.DateField(unique=True, help_text="The first day of the month")
    aggregated_at = models.DateTimeField(null=True, blank=True)
    frozen = models.BooleanField(
        default=False, help_text="Its sessions were purged: the counts can no longer change"
    )

    def __str__(self) -> str:
        return self.month.strftime("%Y-%m")


class Usage(models.Model):
    """Finished RP sessions of one relying party in one month, by API version, session
    kind, certificate level and end result (api.rp.metering)."""

    month = models.DateField(db_index=True)
    relying_party = models.ForeignKey(RelyingParty, on_delete=models.PROTECT, related_name="usage")
    api_version = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=20, choices=RpSession.Kind.choices)
    certificate_level = models.CharField(max_length=10)
    end_result = models.CharField(max_length=48)
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "month",
                    "relying_party",
                    "api_version",
                    "kind",
                    "certificate_level",
                    "end_result",
                ],
                name="rp_usage_one_row_per_group",
            )
        ]
        verbose_name_plural = "usage"

    def __str__(self) -> str:
        month = f"{self.month:%Y-%m}"
        return f"{self.relying_party_id} {month} {self.kind} {self.end_result}: {self.count}"
