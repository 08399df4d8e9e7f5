"""docs/rp-integration.md's worked example, run as a relying party runs it, on a live server.

The first ```python block under the heading "## 9. Worked example in Python" is written to a
file and run by a separate, isolated interpreter (``python -I``: nothing of this repository
is importable), configured only through the ``EID_*`` environment variables that the
document lists, with a trust store downloaded from the server's ``/ca/<slug>.crt``. A
registered person's device approves (or refuses) in a thread of this process. So the
document's code cannot rot: if the API, the certificate profile or the OCSP responder
changes in a way that breaks it, these tests fail.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from accounts.services import person_get_or_create
from api.rp.models import RelyingParty
from pki import services as pki
from pki.models import Certificate
from tests.helpers.answering import Answering
from tests.helpers.platform import Platform
from tests.personas import ALICE, RP_A

DOC = Path(__file__).resolve().parents[2] / "docs" / "rp-integration.md"
HEADING = "## 9. Worked example in Python"
CA_SLUGS = ("root", "eid-q", "eid-nq")
RUN_TIMEOUT = 120


def example_source() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(HEADING)
    block = re.search(r"^```python\n(.*?)^```", text[start:], re.S | re.M)
    assert block is not None, f"no python block under {HEADING!r}"
    return block.group(1)


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "eid_login.py"
    path.write_text(example_source(), encoding="utf-8")
    return path


def download_trust_store(platform: Platform, folder: Path) -> Path:
    """What §3 tells the RP to do once: fetch the three CA certificates (DER)."""
    folder.mkdir()
    for slug in CA_SLUGS:
        response = httpx.get(f"{platform.url}/ca/{slug}.crt", timeout=10)
        assert response.status_code == 200
        (folder / f"{slug}.crt").write_bytes(response.content)
    return folder


@pytest.fixture
def trust_dir(platform: Platform, tmp_path: Path) -> Path:
    return download_trust_store(platform, tmp_path / "eid-trust")


def run_example(
    script: Path, platform: Platform, trust_dir: Path, person: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "EID_BASE_URL": f"{platform.url}/v2/",
        "EID_RP_UUID": RP_A.uuid,
        "EID_RP_NAME": RP_A.name,
        "EID_TRUST_DIR": str(trust_dir),
        "EID_PERSON": person,
    }
    return subprocess.run(
        [sys.executable, "-I", str(script)],
        cwd=script.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )


def printed(result: subprocess.CompletedProcess[str]) -> tuple[str, dict[str, Any]]:
    """(the verification code shown, the identity) from the example's output."""
    assert result.returncode == 0, result.stderr
    code = re.search(r"^Verification code: (\d{4})$", result.stdout, re.M)
    identity = re.search(r"^Authenticated: (\{.*\})$", result.stdout, re.M)
    assert code is not None and identity is not None, result.stdout
    return code.group(1), json.loads(identity.group(1))


def test_worked_example_logs_in_and_extracts_the_identity(
    platform: Platform,
    rp_a: RelyingParty,
    answering: Answering,
    script: Path,
    trust_dir: Path,
) -> None:
    app, account = platform.registered(ALICE)
    answering.start(app)

    code, identity = printed(run_example(script, platform, trust_dir, ALICE.semantics_identifier))

    assert identity == {
        "given_name": "Alice",
        "surname": "Tamm",
        "country": "EE",
        "identity_type": "PNO",
        "identity_country": "EE",
        "identity_code": "49002124277",
        "semantics_identifier": "PNOEE-49002124277",
        "document_number": account.document_number,
        "certificate_level": "QUALIFIED",
        # No date of birth was registered: the example derives it from the code.
        "date_of_birth": "1990-02-12",
    }
    # The code the RP showed is the code the app showed for the transaction it signed.
    assert [tx.verification_code for tx in answering.seen] == [code]


def test_latvian_code_split_on_first_hyphen_and_birth_date_from_the_certificate(
    platform: Platform,
    rp_a: RelyingParty,
    answering: Answering,
    script: Path,
    trust_dir: Path,
) -> None:
    # A new-style LV code carries no date; the registry knows one, so the CA writes it
    # into SubjectDirectoryAttributes and the example must read it from there.
    person_get_or_create(
        semantics_identifier="PNOLV-329999-99901",
        given_name="OK",
        surname="TESTNUMBER",
        date_of_birth=datetime(1903, 3, 3, tzinfo=UTC).date(),
        actor="test",
    )
    app, account = platform.registered("PNOLV-329999-99901")
    auth = Certificate.objects.get(document_number=account.document_number, purpose="AUTH")
    der = x509.load_der_x509_certificate(bytes(auth.der))
    assert der.extensions.get_extension_for_oid(x509.ObjectIdentifier("2.5.29.9"))
    answering.start(app)

    _, identity = printed(run_example(script, platform, trust_dir, "PNOLV-329999-99901"))

    assert identity["country"] == "LV"
    assert identity["identity_country"] == "LV"
    assert identity["identity_code"] == "329999-99901"
    assert identity["semantics_identifier"] == "PNOLV-329999-99901"
    assert identity["document_number"] == account.document_number
    assert identity["date_of_birth"] == "1903-03-03"


def test_refusal_is_not_a_login(
    platform: Platform,
    rp_a: RelyingParty,
    answering: Answering,
    script: Path,
    trust_dir: Path,
) -> None:
    app, _ = platform.registered(ALICE)
    answering.start(app, mode="refuse")

    result = run_example(script, platform, trust_dir, ALICE.semantics_identifier)

    assert result.returncode == 1
    assert "Authenticated:" not in result.stdout
    # The example asks for confirmationMessage first; the refusal names that screen.
    assert "NOT authenticated" in result.stderr
    assert "USER_REFUSED_CONFIRMATIONMESSAGE" in result.stderr


def test_certificate_on_hold_cannot_log_in(
    platform: Platform,
    rp_a: RelyingParty,
    answering: Answering,
    script: Path,
    trust_dir: Path,
) -> None:
    app, account = platform.registered(ALICE)
    auth = Certificate.objects.get(document_number=account.document_number, purpose="AUTH")
    pki.certificate_hold(certificate=auth, actor="test")
    answering.start(app)

    result = run_example(script, platform, trust_dir, ALICE.semantics_identifier)

    # The service refuses a key whose certificate is on hold (472) before any device
    # is asked; the RP's own OCSP check (step 4) stays as the second line.
    assert result.returncode == 1, result.stdout
    assert answering.seen == []
    assert "HTTP 472" in result.stderr


def test_a_foreign_trust_anchor_fails_the_chain_check(
    platform: Platform,
    rp_a: RelyingParty,
    answering: Answering,
    script: Path,
    trust_dir: Path,
) -> None:
    # A root with our root's name and another key, next to our genuine issuing CAs.
    genuine = x509.load_der_x509_certificate((trust_dir / "root.crt").read_bytes())
    key = ec.generate_private_key(ec.SECP384R1())
    now = datetime.now(UTC)
    impostor = (
        x509.CertificateBuilder()
        .subject_name(genuine.subject)
        .issuer_name(genuine.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA384())
    )
    (trust_dir / "root.crt").write_bytes(impostor.public_bytes(Encoding.DER))
    app, _ = platform.registered(ALICE)
    answering.start(app)

    result = run_example(script, platform, trust_dir, ALICE.semantics_identifier)

    assert result.returncode == 1
    assert "VerificationError" in result.stderr


def test_worked_example_imports_only_httpx_cryptography_and_the_standard_library() -> None:
    tree = ast.parse(example_source())
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module.split(".")[0])
    assert modules - set(sys.stdlib_module_names) == {"httpx", "cryptography"}


SPEC_VECTORS = [  # rp-api.md §2, in the order of the document's table
    (bytes.fromhex("1bbb"), "4555"),
    (hashlib.sha256(b"Hello World!").digest(), "7712"),
    (hashlib.sha384(b"Hello World!").digest(), "3486"),
    (hashlib.sha512(b"Hello World!").digest(), "4664"),
    (hashlib.sha256(b"You broke it, didn't you.").digest(), "3404"),
    (hashlib.sha256(b"Go ahead, make my day.").digest(), "7782"),
    (hashlib.sha512(b"Hello SMART-ID").digest(), "7180"),
]


def test_verification_code_of_the_example_and_the_documents_vectors(
    script: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("eid_login", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "eid_login", module)  # its dataclass looks itself up
    spec.loader.exec_module(module)  # defines functions; main runs only as __main__
    verification_code = module.verification_code
    assert [verification_code(raw) for raw, _ in SPEC_VECTORS] == [c for _, c in SPEC_VECTORS]
    text = DOC.read_text(encoding="utf-8")
    section = text[text.index("## 5. The verification code") : text.index("## 6.")]
    assert re.findall(r"^\|[^|\n]+\| (\d{4}) \|$", section, re.M) == [c for _, c in SPEC_VECTORS]


def test_the_trust_store_names_are_the_documented_test_names(
    platform: Platform, trust_dir: Path
) -> None:
    year = datetime.now(UTC).year
    names = {}
    for slug in CA_SLUGS:
        cert = x509.load_der_x509_certificate((trust_dir / f"{slug}.crt").read_bytes())
        names[slug] = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert names == {
        "root": f"TEST of Open eID Root CA {year}",
        "eid-q": f"TEST of Open eID EID-Q {year}E",
        "eid-nq": f"TEST of Open eID EID-NQ {year}E",
    }
