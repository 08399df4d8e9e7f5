"""Helpers that make test inputs for the CA: identities, keys and CSRs."""

from __future__ import annotations

from functools import lru_cache

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from pki.profiles import SubjectIdentity
from tests import personas
from tests.personas import Citizen


def subject_identity(who: Citizen) -> SubjectIdentity:
    """The citizen as the CA names a certificate's subject."""
    return SubjectIdentity(
        semantics_identifier=who.semantics_identifier,
        given_name=who.given_name,
        surname=who.surname,
        country=who.country,
        date_of_birth=who.date_of_birth,
    )


ALICE = subject_identity(personas.ALICE)
ALICE_DOCUMENT = personas.ALICE.document_number
# A Latvian identifier keeps its inner hyphen; no date of birth in a 32… code.
LAURA = subject_identity(
    personas.citizen("PNOLV-329999-99901", given_name="LAURA", surname="BĒRZIŅA")
)
LAURA_DOCUMENT = "PNOLV-329999-99901-AB12-NQ"
TEST_KEY_BITS = 2048


@lru_cache(maxsize=8)
def rsa_key(slot: int = 0, bits: int = TEST_KEY_BITS) -> rsa.RSAPrivateKey:
    """Deterministic per slot within a run, so tests can ask for 'another key'."""
    return rsa.generate_private_key(65537, bits)


def csr(
    key: CertificateIssuerPrivateKeyTypes | None = None,
    *,
    extensions: list[x509.ExtensionType] | None = None,
) -> bytes:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ignored")])
    )
    for extension in extensions or []:
        builder = builder.add_extension(extension, critical=False)
    signer = key if key is not None else rsa_key()
    return builder.sign(signer, hashes.SHA256()).public_bytes(Encoding.DER)
