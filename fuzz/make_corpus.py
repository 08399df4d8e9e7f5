"""Write the seed corpora of the harnesses into fuzz/corpus/<harness>/ (committed).

Small valid inputs of every kind a parser reads, so that fuzzing starts deep inside the
format instead of at its first byte: genuine synthetic SODs (EC, RSA-PSS, brainpool with
explicit parameters, id-data), a master list, each data group, the ICAO specimen MRZs,
certificate requests, RP API bodies and a valid Web eID login. Run again after a format
changes: ``.venv/bin/python fuzz/make_corpus.py`` (keys are new each time).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import io
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import _harness
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from PIL import Image

CORPUS = Path(__file__).resolve().parent / "corpus"


def _write(name: str, items: dict[str, bytes]) -> None:
    folder = CORPUS / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for label, data in items.items():
        (folder / label).write_bytes(data)
    print(f"{name}: {len(items)} seeds, {sum(map(len, items.values()))} bytes")


def _tiny_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 10), (200, 150, 120)).save(out, format="JPEG", quality=50)
    return out.getvalue()


def emrtd() -> None:
    from demo import passports as synthetic
    from enrolment.emrtd import tlv
    from enrolment.emrtd.sod import OID_DATA

    csca = synthetic.test_csca("EE")
    explicit = synthetic.explicit_csca("EE")
    person: dict[str, Any] = {
        "surname": "Tamm",
        "given_names": "Alice Mari",
        "document_number": "K0123456",
        "personal_code": "48001085718",
        "nationality": "EST",
        "date_of_birth": datetime.date(1980, 1, 8),
        "sex": "F",
        "expiry_date": datetime.date(2031, 5, 31),
        "photo_jpeg": _tiny_jpeg(),
    }
    ec_rsa_aa = synthetic.make_passport(csca=csca, **person)
    pss_ec_aa = synthetic.make_passport(csca=csca, dsc="rsa-pss", aa="ec", **person)
    brainpool = synthetic.make_passport(csca=explicit, aa=None, **person)
    td1 = synthetic.make_passport(csca=csca, td="TD1", aa=None, **person)
    td2 = synthetic.make_passport(csca=csca, td="TD2", aa=None, **(person | {"personal_code": ""}))
    signer = csca.signer("ec")
    id_data = synthetic.build_sod(
        ec_rsa_aa.data_groups,
        certificate=signer.certificate,
        private_key=signer.private_key,
        algorithm="ec",
        content_type=OID_DATA,
    )
    master_list = synthetic.build_master_list(
        [csca.certificate, explicit.certificate], signer=csca.dsc_ec
    )
    _write(
        "emrtd_sod",
        {
            "sod-ec": ec_rsa_aa.sod,
            "sod-rsa-pss": pss_ec_aa.sod,
            "sod-brainpool-explicit": brainpool.sod,
            "sod-id-data": id_data,
            "master-list": master_list,
        },
    )
    explicit_aa = ec.generate_private_key(ec.BrainpoolP256R1()).public_key()
    _write(
        "emrtd_dg",
        {
            "dg1-td3": ec_rsa_aa.data_groups[1],
            "dg1-td1": td1.data_groups[1],
            "dg1-td2": td2.data_groups[1],
            "dg2-jpeg": ec_rsa_aa.data_groups[2],
            "dg14-ecdsa-aa": pss_ec_aa.data_groups[14],
            "dg15-rsa": ec_rsa_aa.data_groups[15],
            "dg15-ec": pss_ec_aa.data_groups[15],
            "dg15-brainpool-explicit": tlv.encode(0x6F, synthetic.explicit_spki(explicit_aa)),
        },
    )
    mrz = {  # ICAO Doc 9303 specimens (parts 4, 5, 6), one line after the other
        "td3": "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
        "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
        "td1": "I<UTOD231458907<<<<<<<<<<<<<<<"
        "7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
        "td2": "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<D231458907UTO7408122F1204159<<<<<<<6",
        "td1-long-number": "I<UTOD23145890<7349<<<<<<<<<<<"
        "7408122F1204159UTO<<<<<<<<<<<6ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
    }
    _write("emrtd_mrz", {k: b"\x00" + v.encode() for k, v in mrz.items()})


def csr() -> None:
    items = {}
    for bits in (1024, 2048):
        key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
        request = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(x509.Name([]))
            .sign(key, hashes.SHA256())
        )
        items[f"rsa-{bits}"] = request.public_bytes(serialization.Encoding.DER)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    items["ec-p256"] = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .sign(ec_key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    _write("csr", items)


def rp_api_json() -> None:
    sys.path.insert(0, str(_harness.ROOT / "fuzz"))
    rp = {"relyingPartyUUID": "00000000-0000-0000-0000-000000000000", "relyingPartyName": "DEMO"}
    digest = base64.b64encode(hashlib.sha512(b"fuzz").digest()).decode()
    pin = [{"type": "displayTextAndPIN", "displayText60": "Log in?"}]
    b64 = base64.b64encode(json.dumps(pin).encode()).decode()
    v2_hash = {**rp, "hash": digest, "hashType": "SHA512"}
    acsp = {
        "rpChallenge": base64.b64encode(bytes(32)).decode(),
        "signatureAlgorithm": "rsassa-pss",
        "signatureAlgorithmParameters": {"hashAlgorithm": "SHA3-512"},
    }
    raw = {
        "digest": digest,
        "signatureAlgorithm": "rsassa-pss",
        "signatureAlgorithmParameters": {"hashAlgorithm": "SHA-512"},
    }
    # Index = the operation of fuzz/rp_api_json.py's OPERATIONS.
    bodies: dict[int, dict[str, Any]] = {
        0: v2_hash | {"displayText": "Log in?", "requestProperties": {"vcChoice": True}},
        1: v2_hash | {"allowedInteractionsOrder": pin, "certificateLevel": "QUALIFIED"},
        3: v2_hash | {"allowedInteractionsOrder": pin, "nonce": "n1"},
        4: rp | {"certificateLevel": "QSCD"},
        5: rp
        | {
            "signatureProtocol": "ACSP_V2",
            "signatureProtocolParameters": acsp,
            "interactions": b64,
            "initialCallbackUrl": "https://rp.example/cb?x=1",
        },
        6: rp
        | {
            "signatureProtocol": "ACSP_V2",
            "signatureProtocolParameters": acsp,
            "interactions": b64,
            "vcType": "numeric4",
        },
        8: rp
        | {
            "signatureProtocol": "RAW_DIGEST_SIGNATURE",
            "signatureProtocolParameters": raw,
            "interactions": b64,
            "nonce": "n1",
        },
        9: rp
        | {
            "signatureProtocol": "RAW_DIGEST_SIGNATURE",
            "signatureProtocolParameters": raw,
            "interactions": b64,
            "linkedSessionID": "9f2b0c5e-3a51-4d7e-8f11-2c6f7a8b9d01",
        },
        11: rp | {"requestProperties": {"shareMdClientIpAddress": True}, "capabilities": ["x"]},
    }
    _write(
        "rp_api_json",
        {f"op{index:02d}": bytes([index]) + json.dumps(b).encode() for index, b in bodies.items()},
    )


def webeid_token() -> None:
    import webeid_token as harness

    card: Any = harness.seed_card()
    body = {
        "authToken": card.token_for(harness.ORIGIN, harness.NONCE),
        "origin": harness.ORIGIN,
        "challengeNonce": harness.NONCE,
    }
    _write("webeid_token", {"login": json.dumps(body).encode()})


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    emrtd()
    csr()
    rp_api_json()
    webeid_token()
