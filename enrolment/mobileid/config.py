"""Build the Mobile-ID client from the settings (docs/mobile-id.md "Configuration").

Kept apart from ``client.py`` so that the client itself never imports Django; Django is
imported here only inside the functions.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from enrolment.mobileid.client import MobileIdClient
from enrolment.mobileid.errors import ServiceUnavailable

#: A trust bundle is a handful of CA certificates; anything bigger is a mistake.
MAX_TRUST_BUNDLE_BYTES = 1024 * 1024


class TrustBundleError(Exception):
    """The trusted-CA file cannot be used (a configuration error, reported by a system check)."""


def load_trust_anchors(path: Path) -> list[x509.Certificate]:
    """Read the PEM bundle of trusted Mobile-ID issuing CAs; every one must be a CA."""
    try:
        if path.stat().st_size > MAX_TRUST_BUNDLE_BYTES:
            raise TrustBundleError(f"{path} is larger than {MAX_TRUST_BUNDLE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise TrustBundleError(f"cannot read {path}: {exc}") from exc
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise TrustBundleError(f"{path} holds no PEM certificates: {exc}") from exc
    for certificate in certificates:
        try:
            ca = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        except (x509.ExtensionNotFound, ValueError):
            ca = False
        if not ca:
            raise TrustBundleError(f"{certificate.subject.rfc4514_string()} is not a CA")
    return certificates


#: CA sources of a local Mobile-ID simulator, registered by the app that provides one (the
#: demo's ``ready()``); trusted only while ``MOBILE_ID_SIMULATOR`` is on, never in live.
_test_anchor_sources: list[Callable[[], list[x509.Certificate]]] = []


def register_test_anchors(source: Callable[[], list[x509.Certificate]]) -> None:
    """Trust a simulator's CA (called at start-up by the app that provides the simulator)."""
    if source not in _test_anchor_sources:
        _test_anchor_sources.append(source)


def trust_anchors_from_settings() -> list[x509.Certificate]:
    """The configured CAs, plus the simulator's CA when the simulator is on (never in live)."""
    from django.conf import settings

    anchors: list[x509.Certificate] = []
    if settings.MOBILE_ID_TRUSTED_CA_PATH:
        anchors.extend(load_trust_anchors(Path(settings.MOBILE_ID_TRUSTED_CA_PATH)))
    if settings.MOBILE_ID_SIMULATOR and not settings.IS_LIVE:
        for source in _test_anchor_sources:
            anchors.extend(source())
    return anchors


def client_from_settings() -> MobileIdClient:
    """A client for ``MOBILE_ID_URL``; :class:`ServiceUnavailable` when Mobile-ID is off."""
    from django.conf import settings

    if not settings.MOBILE_ID_URL:
        raise ServiceUnavailable("Mobile-ID is not configured (MOBILE_ID_URL is empty)")
    try:
        anchors = trust_anchors_from_settings()
    except TrustBundleError as exc:
        raise ServiceUnavailable(f"Mobile-ID trust anchors unusable: {exc}") from exc
    if not anchors:
        raise ServiceUnavailable("Mobile-ID has no trusted CA (MOBILE_ID_TRUSTED_CA_PATH)")
    return MobileIdClient(
        base_url=settings.MOBILE_ID_URL,
        relying_party_uuid=settings.MOBILE_ID_RELYING_PARTY_UUID,
        relying_party_name=settings.MOBILE_ID_RELYING_PARTY_NAME,
        trust_anchors=anchors,
    )
