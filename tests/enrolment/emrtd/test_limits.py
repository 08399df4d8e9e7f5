"""Hostile ASN.1 is refused by the pre-parser, fast (security targets of the design, §3).

The four pyasn1 CVE classes — nesting 10⁴ deep, a 1 MB tag, a 2⁶⁴ length, an OID of 10⁵
arcs — are each refused in under 100 ms, both by :func:`tlv.validate` with a size limit
that lets them through to the parser and through :func:`passive_authenticate` (SOD).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo import passports as synthetic
from enrolment.emrtd import CscaTrustStore, EmrtdError, passive_authenticate, tlv
from tests.helpers.passports import NOW, MakePassport

BIG = 4 * 1024 * 1024


def _nested(depth: int) -> bytes:
    inner = b"\x05\x00"  # NULL
    for _ in range(depth):
        inner = tlv.encode(0x30, inner)
    return inner


def _nested_indefinite(depth: int) -> bytes:
    return b"\x30\x80" * depth + b"\x05\x00" + b"\x00\x00" * depth


HOSTILE: dict[str, Callable[[], bytes]] = {
    "nesting 10^4 deep": lambda: _nested(10_000),
    "nesting 10^4 deep, indefinite": lambda: _nested_indefinite(10_000),
    "1 MB tag": lambda: b"\x1f" + b"\x81" * (1024 * 1024) + b"\x01\x00",
    "2^64 length": lambda: b"\x04\x89\x01" + bytes(8) + b"\x00",
    "10^5-arc OID": lambda: tlv.encode(0x06, b"\x2a" + b"\x01" * 100_000),
}


def _elapsed(call: Callable[[], object]) -> tuple[float, EmrtdError]:
    started = time.perf_counter()
    with pytest.raises(EmrtdError) as caught:
        call()
    return time.perf_counter() - started, caught.value


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_the_pre_parser_refuses_each_class_fast(name: str) -> None:
    data = HOSTILE[name]()
    elapsed, error = _elapsed(
        lambda: tlv.validate(data, max_size=BIG, what="input", allow_indefinite=True)
    )
    assert error.code == "asn1_limits", error.message
    assert elapsed < 0.1, elapsed


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_passive_authentication_refuses_each_class_fast(
    name: str, make: MakePassport, store: CscaTrustStore
) -> None:
    data = HOSTILE[name]()
    genuine = make()
    as_sod = b"\x77" + (b"\x84" + len(data).to_bytes(4, "big")) + data
    as_dg2 = b"\x75" + (b"\x84" + len(data).to_bytes(4, "big")) + data
    dg2_only = {1: genuine.data_groups[1], 2: as_dg2}
    # Data groups are DER: an indefinite length there is refused before the depth counts.
    dg2_codes = {"malformed"} if "indefinite" in name else {"asn1_limits"}
    for sod, groups, codes in (
        (as_sod, genuine.data_groups, {"asn1_limits"}),
        (genuine.sod, dg2_only, dg2_codes),
    ):
        elapsed, error = _elapsed(
            functools.partial(
                passive_authenticate, sod=sod, data_groups=groups, trust_store=store, at=NOW
            )
        )
        assert error.code in codes, error.message
        assert elapsed < 0.1, elapsed


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "malformed"),
        (b"\x30", "malformed"),  # no length
        (b"\x30\x05\x05\x00", "malformed"),  # truncated value
        (b"\x30\x82\x00", "malformed"),  # truncated length
        (b"\x05\x00\x05\x00", "malformed"),  # two elements at the top
        (b"\x30\x80\x05\x00", "malformed"),  # indefinite without its end
        (b"\x04\x80\x00\x00", "malformed"),  # indefinite primitive
        (b"\x30\xff", "malformed"),  # reserved length octet
        (b"\x06\x02\x2a\x81", "malformed"),  # OID ending mid-arc
        (b"\x1f\x81\x81\x81\x01\x00", "asn1_limits"),  # 5-byte tag
        (b"\x04\x85\x00\x00\x00\x00\x01\x00", "asn1_limits"),  # 5-byte length field
        (tlv.encode(0x06, b"\x2a" + b"\x01" * 70), "asn1_limits"),  # 71 arcs
        (_nested(33), "asn1_limits"),
        (tlv.encode(0x30, b"\x05\x00" * 10_001), "asn1_limits"),  # too many elements
    ],
)
def test_malformed_and_over_limit_inputs(data: bytes, code: str) -> None:
    with pytest.raises(EmrtdError) as caught:
        tlv.validate(data, max_size=BIG, what="input", allow_indefinite=True)
    assert caught.value.code == code


def test_limits_leave_room_for_real_structures() -> None:
    tlv.validate(_nested(32), max_size=BIG, what="input")
    tlv.validate(tlv.encode(0x06, b"\x2a" + b"\x01" * 62), max_size=BIG, what="input")
    tlv.validate(_nested_indefinite(31), max_size=BIG, what="input", allow_indefinite=True)


def test_an_oversized_sod_is_refused_before_parsing(
    make: MakePassport, store: CscaTrustStore
) -> None:
    genuine = make()
    huge = tlv.encode(0x77, tlv.encode(0x04, bytes(70 * 1024)))
    with pytest.raises(EmrtdError) as caught:
        passive_authenticate(sod=huge, data_groups=genuine.data_groups, trust_store=store, at=NOW)
    assert caught.value.code == "asn1_limits"


@pytest.fixture(scope="module")
def genuine(make: MakePassport) -> synthetic.SyntheticPassport:
    return make(aa="ec", dsc="rsa-pss")


@settings(
    max_examples=300,
    deadline=None,
    # the fixtures are module- and session-scoped: one passport, reused read-only
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_random_damage_to_a_genuine_passport_only_raises_emrtd_errors(
    data: st.DataObject, genuine: synthetic.SyntheticPassport, store: CscaTrustStore
) -> None:
    """No builtin exception escapes, whatever bytes of the SOD, DG1, DG14 or DG15 change.

    A change may also pass: the SOD has unsigned parts (SignedData version, the digest
    algorithm set, the certificate set's order) that no verifier can hold to anything.
    But a damaged data group never passes.
    """
    targets: list[str | int] = ["sod", 1, 14, 15]
    target = data.draw(st.sampled_from(targets))
    original = genuine.sod if isinstance(target, str) else genuine.data_groups[target]
    blob = bytearray(original)
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(0, len(blob) - 1))
        blob[position] = data.draw(st.integers(0, 255))
    if data.draw(st.booleans()):
        blob = blob[: data.draw(st.integers(0, len(blob)))]
    groups = dict(genuine.data_groups)
    sod = genuine.sod
    if isinstance(target, str):
        sod = bytes(blob)
    else:
        groups[target] = bytes(blob)
    if bytes(blob) == original:
        return
    try:
        passive_authenticate(sod=sod, data_groups=groups, trust_store=store, at=NOW)
    except EmrtdError:
        return
    assert target == "sod", "a damaged data group passed"


@settings(max_examples=300, deadline=None)
@given(blob=st.binary(max_size=300))
def test_random_bytes_only_raise_emrtd_errors(blob: bytes) -> None:
    with pytest.raises(EmrtdError):
        passive_authenticate(
            sod=b"\x77" + bytes([len(blob)]) + blob if len(blob) < 128 else blob,
            data_groups={1: blob, 2: blob},
            trust_store=CscaTrustStore.from_certificates([]),
            at=NOW,
        )


def test_a_signer_key_that_cannot_be_loaded_is_an_emrtd_error(
    genuine: synthetic.SyntheticPassport, store: CscaTrustStore
) -> None:
    """The document signer's RSA exponent 65537 damaged into 65536, one place at a time:
    each is an eMRTD error, never a crash; in the signer's key it is a signature that does
    not verify (cryptography refuses to load an even exponent: a ValueError escaped before).
    """
    exponent, even = bytes.fromhex("0203010001"), bytes.fromhex("0203010000")
    places = [i for i in range(len(genuine.sod)) if genuine.sod.startswith(exponent, i)]
    assert places, "the genuine SOD holds an RSA document signer"
    codes = set()
    for place in places:
        damaged = genuine.sod[:place] + even + genuine.sod[place + len(even) :]
        with pytest.raises(EmrtdError) as caught:
            passive_authenticate(
                sod=damaged, data_groups=genuine.data_groups, trust_store=store, at=NOW
            )
        codes.add(caught.value.code)
    assert "sod_signature_invalid" in codes, codes


def test_a_document_signer_with_a_duplicated_extension_is_malformed(
    csca: synthetic.TestCsca, genuine: synthetic.SyntheticPassport, store: CscaTrustStore
) -> None:
    """cryptography raises DuplicateExtension (not a ValueError) when the extensions of a
    certificate are read; it escaped from the trust check before."""
    signer = csca.signer("rsa")
    parsed = asn1_x509.Certificate.load(signer.certificate.public_bytes(Encoding.DER))
    extensions = parsed["tbs_certificate"]["extensions"]
    extensions.append(asn1_x509.Extension.load(extensions[0].dump()))
    damaged = x509.load_der_x509_certificate(parsed.dump(force=True))
    sod = synthetic.build_sod(
        genuine.data_groups,
        certificate=damaged,
        private_key=signer.private_key,
        algorithm="rsa-pss",
    )
    with pytest.raises(EmrtdError) as caught:
        passive_authenticate(sod=sod, data_groups=genuine.data_groups, trust_store=store, at=NOW)
    assert caught.value.code == "malformed"


def test_a_document_signer_with_a_bit_string_in_its_issuer_name_is_malformed(
    csca: synthetic.TestCsca, genuine: synthetic.SyntheticPassport
) -> None:
    """C=EE of the DSC's issuer as a BIT STRING: cryptography raises TypeError when the
    name is read (found by fuzz/webeid_token.py in the Web eID validator)."""
    signer = csca.signer("rsa")
    der = signer.certificate.public_bytes(Encoding.DER)
    country = bytes.fromhex("060355040613024545")
    damaged = x509.load_der_x509_certificate(
        der.replace(country, bytes.fromhex("060355040603020045"), 1)
    )
    store = CscaTrustStore.from_certificates([csca.certificate])
    with pytest.raises(EmrtdError) as caught:
        store.verify_dsc(damaged, at=NOW)
    assert caught.value.code == "malformed"
