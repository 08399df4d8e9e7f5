"""CA keys: in the PKCS#11 token (SoftHSM2) or wrapped in files, never in clear in the database."""

from __future__ import annotations

import base64
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps
from django.test import override_settings

from pki import ocsp, services
from pki.keystore import FileKeyStore, get_keystore
from pki.models import CertificateAuthority
from tests.helpers.softhsm import SoftHSM
from tests.pki import factories as f


def _database_contains(needles: list[bytes]) -> list[str]:
    """Every stored value of every model, searched for raw, hex and Base64 forms."""
    forms = [form for n in needles for form in (n, n.hex().encode(), base64.b64encode(n))]
    hits = []
    for model in apps.get_models():
        for row in model._default_manager.all().iterator():
            for field in model._meta.concrete_fields:
                value = getattr(row, field.attname)
                if isinstance(value, memoryview | bytes | bytearray):
                    blob = bytes(value)
                else:
                    blob = str(value).encode()
                if any(form in blob for form in forms):
                    hits.append(f"{model.__name__}.{field.name}")
    return hits


@pytest.mark.django_db
def test_ca_private_keys_never_reach_the_database(ca_hierarchy: list[CertificateAuthority]) -> None:
    store = get_keystore()
    assert isinstance(store, FileKeyStore)
    needles = []
    for ca in ca_hierarchy:
        for label in filter(None, (ca.key_label, ca.ocsp_key_label)):
            private = store._load_private_key(label)
            needles.append(private.private_numbers().private_value.to_bytes(48, "big"))
    assert len(needles) == 5
    services.certificate_issue(
        csr_der=f.csr(),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose="AUTH",
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="test",
    )
    assert _database_contains(needles) == []
    # The search does find what is there: a public key of a CA is in its certificate.
    public = store.public_key(ca_hierarchy[0].key_label).public_numbers().x.to_bytes(48, "big")
    assert _database_contains([public]) != []


@pytest.fixture
def pkcs11_settings(softhsm: SoftHSM) -> Iterator[SoftHSM]:
    ocsp.reset_issuer_index()
    with override_settings(
        KEYSTORE_BACKEND="pkcs11",
        PKCS11_MODULE=softhsm.module,
        PKCS11_TOKEN_LABEL=softhsm.token,
        PKCS11_PIN=softhsm.pin,
    ):
        yield softhsm
    ocsp.reset_issuer_index()


@pytest.mark.django_db
def test_hierarchy_issuance_and_ocsp_with_keys_in_softhsm(
    pkcs11_settings: SoftHSM, tmp_path: Path
) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509 import ocsp as cocsp

    from pki.keystore import Pkcs11KeyStore

    assert isinstance(get_keystore(), Pkcs11KeyStore)
    root, q, _ = services.ca_hierarchy_create(actor="test")
    row = services.certificate_issue(
        csr_der=f.csr(),
        identity=f.ALICE,
        document_number=f.ALICE_DOCUMENT,
        purpose="SIGN",
        qualified=True,
        allowed_key_bits={f.TEST_KEY_BITS},
        actor="test",
    )
    for name, der in (("root", root.certificate_der), ("q", q.certificate_der), ("ee", row.der)):
        (tmp_path / f"{name}.pem").write_bytes(
            x509.load_der_x509_certificate(bytes(der)).public_bytes(Encoding.PEM)
        )
    verify = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "q.pem", "ee.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert verify.stdout.strip() == "ee.pem: OK", verify.stderr
    # An OCSP answer signed in the token verifies with the responder certificate.
    cert = x509.load_der_x509_certificate(bytes(row.der))
    issuer = services.ca_certificate(q)
    request = cocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    answer = cocsp.load_der_ocsp_response(ocsp.respond(request.public_bytes(Encoding.DER)))
    assert answer.certificate_status == cocsp.OCSPCertStatus.GOOD
    responder = answer.certificates[0]
    from cryptography.hazmat.primitives.asymmetric import ec

    key = responder.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert answer.signature_hash_algorithm is not None
    key.verify(
        answer.signature, answer.tbs_response_bytes, ec.ECDSA(answer.signature_hash_algorithm)
    )
