"""Fuzz EF.SOD and ICAO master lists (CMS SignedData): only EmrtdError may leave.

An input starting with the SOD tag 0x77 is an EF.SOD: parsed, its signature checked, and
its document signer checked against the certificates it carries itself (a trust store
made of them), so the chain code runs too. Anything else is read as a master list.
"""

from __future__ import annotations

import _harness
import atheris

with atheris.instrument_imports(include=["enrolment.emrtd", "asn1crypto"]):
    from enrolment.emrtd import CscaTrustStore, EmrtdError
    from enrolment.emrtd.sod import parse_sod, verify_signed_data
    from enrolment.emrtd.trust import load_master_list


def test_one_input(data: bytes) -> None:
    try:
        if data[:1] == b"\x77":
            sod = parse_sod(data)
            verify_signed_data(sod.signed, what="EF.SOD")
            store = CscaTrustStore(sod.signed.certificates)
            store.verify_dsc(sod.dsc, at=_harness.NOW)
        else:
            # The certificates of the list vouch for its signer: the chain code runs too.
            listed = load_master_list(data)
            load_master_list(data, anchors=list(listed.certificates))
    except EmrtdError:
        pass


if __name__ == "__main__":
    _harness.fuzz(test_one_input)
