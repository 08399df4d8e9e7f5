"""A relying party's validator (pyhanko-certvalidator) accepts our chain and our OCSP."""

from __future__ import annotations

import asyncio

import pytest
from asn1crypto import x509 as ax509
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.errors import RevokedError

from pki import services
from pki.models import Certificate, CertificateAuthority
from tests.live import LiveASGIServer
from tests.pki import factories as f


def _asn1(der: bytes | memoryview) -> ax509.Certificate:
    return ax509.Certificate.load(bytes(der))


def _validate(row: Certificate, hierarchy: list[CertificateAuthority], usage: set[str]) -> None:
    root, issuing = hierarchy[0], hierarchy[1]
    context = ValidationContext(
        trust_roots=[_asn1(root.certificate_der)],
        allow_fetching=True,
        revocation_mode="require",  # OCSP for the end entity, the root's CRL for the CA
    )
    validator = CertificateValidator(
        _asn1(row.der),
        intermediate_certs=[_asn1(issuing.certificate_der)],
        validation_context=context,
    )
    asyncio.run(validator.async_validate_usage(usage))  # type: ignore[no-untyped-call]


def test_chain_and_revocation_through_our_ocsp(asgi_server: LiveASGIServer) -> None:
    hierarchy = services.ca_hierarchy_create(actor="test", base_url=asgi_server.url)

    def issue(purpose: str) -> Certificate:
        return services.certificate_issue(
            csr_der=f.csr(),
            identity=f.ALICE,
            document_number=f.ALICE_DOCUMENT,
            purpose=purpose,
            qualified=True,
            allowed_key_bits={f.TEST_KEY_BITS},
            actor="test",
            base_url=asgi_server.url,
        )

    auth, sign = issue("AUTH"), issue("SIGN")
    _validate(auth, hierarchy, {"digital_signature"})
    _validate(sign, hierarchy, {"non_repudiation"})

    services.certificate_revoke(certificate=auth, reason="key_compromise", actor="test")
    with pytest.raises(RevokedError):
        _validate(auth, hierarchy, {"digital_signature"})
    services.certificate_hold(certificate=sign, actor="test")
    with pytest.raises(RevokedError):
        _validate(sign, hierarchy, {"non_repudiation"})
    services.certificate_release(certificate=sign, actor="test")
    _validate(sign, hierarchy, {"non_repudiation"})
