"""The production key size end to end: 3072 + 3072 bits, |n| = 6143 or 6144.

The other end-to-end tests use 1024-bit halves for speed; this one registers at the
size the service hands out in production and checks the signatures with standard
verifiers (``cryptography`` and the ``openssl`` command line), PKCS#1 v1.5 and PSS.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from accounts.models import Account
from device.app import DeviceApp
from signing.models import SplitKey, Transaction
from signing.services.transactions import transaction_create
from tests.helpers.platform import Platform
from tests.personas import PIN1, PIN2, RP_A

FULL_BITS = 3072


def _public_key(account: Account, purpose: str) -> rsa.RSAPublicKey:
    key = SplitKey.objects.get(account=account, purpose=purpose)
    assert key.certificate is not None
    public = x509.load_der_x509_certificate(bytes(key.certificate.der)).public_key()
    assert isinstance(public, rsa.RSAPublicKey)
    return public


def _approve(app: DeviceApp, tx: Transaction, pin: str) -> bytes:
    found = {t.id: t for t in app.pending(timeout_ms=5000)}
    assert str(tx.pk) in found
    assert app.approve(found[str(tx.pk)], pin).status == "OK"
    tx.refresh_from_db()
    assert tx.result == Transaction.Result.OK and tx.signature is not None
    return bytes(tx.signature)


def _openssl_verify(
    folder: Path, public: rsa.RSAPublicKey, data: bytes, sig: bytes, *opts: str
) -> str:
    (folder / "pub.pem").write_bytes(
        public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    )
    (folder / "data.bin").write_bytes(data)
    (folder / "sig.bin").write_bytes(sig)
    result = subprocess.run(
        [
            "openssl",
            "dgst",
            "-sha512",
            *opts,
            "-verify",
            "pub.pem",
            "-signature",
            "sig.bin",
            "data.bin",
        ],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip()


@pytest.mark.slow
def test_production_size_register_authenticate_and_sign_pss(
    platform: Platform, settings: Any, tmp_path: Path
) -> None:
    settings.SPLITKEY_BITS = FULL_BITS
    app = platform.device(bits=FULL_BITS)  # DeviceApp(min_key_bits=3072)
    result = app.register(platform.ticket(), PIN1, PIN2)
    account = Account.objects.get(document_number=result.document_number)
    assert account.state == Account.State.ACTIVE

    for purpose in ("AUTH", "SIGN"):
        key = SplitKey.objects.get(account=account, purpose=purpose)
        n1, n2 = int(key.n1, 16), int(key.n2, 16)
        assert key.bits == FULL_BITS
        assert n1.bit_length() == FULL_BITS and n2.bit_length() == FULL_BITS
        public = _public_key(account, purpose)
        assert public.key_size in (2 * FULL_BITS - 1, 2 * FULL_BITS)
        assert public.public_numbers().n == n1 * n2
        assert public.public_numbers().e == 65537

    # Authentication over a SHA-512 hash, PKCS#1 v1.5 (RP API v1/v2).
    data = b"full-size login challenge"
    tx = transaction_create(
        account=account,
        kind=Transaction.Kind.AUTHENTICATION,
        rp_name=RP_A.name,
        interactions=[{"type": "displayTextAndPIN", "displayText60": "Log in?"}],
        digest=hashlib.sha512(data).digest(),
        hash_type="SHA512",
    )
    signature = _approve(app, tx, PIN1)
    auth_key = _public_key(account, "AUTH")
    assert len(signature) == (auth_key.key_size + 7) // 8
    auth_key.verify(
        signature, hashlib.sha512(data).digest(), padding.PKCS1v15(), Prehashed(hashes.SHA512())
    )
    assert _openssl_verify(tmp_path, auth_key, data, signature) == "Verified OK"

    # A signature over SHA-512 with PSS (salt chosen by the server, as long as the hash).
    document = b"full-size contract to sign"
    tx = transaction_create(
        account=account,
        kind=Transaction.Kind.SIGNATURE,
        rp_name=RP_A.name,
        interactions=[{"type": "displayTextAndPIN", "displayText60": "Sign the contract?"}],
        digest=hashlib.sha512(document).digest(),
        hash_type="SHA512",
        padding="PSS",
    )
    assert tx.salt is not None and len(bytes(tx.salt)) == 64
    signature = _approve(app, tx, PIN2)
    sign_key = _public_key(account, "SIGN")
    sign_key.verify(
        signature,
        hashlib.sha512(document).digest(),
        padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
        Prehashed(hashes.SHA512()),
    )
    assert (
        _openssl_verify(
            tmp_path,
            sign_key,
            document,
            signature,
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:64",
        )
        == "Verified OK"
    )
    # The AUTH key cannot have made it: the PSS signature is bound to the SIGN key.
    with pytest.raises(InvalidSignature):
        auth_key.verify(
            signature,
            hashlib.sha512(document).digest(),
            padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64),
            Prehashed(hashes.SHA512()),
        )
