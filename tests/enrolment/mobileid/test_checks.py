"""Live mode refuses the Mobile-ID simulator and fake message delivery (smartid/checks.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from django.core.checks import run_checks
from django.test import override_settings

from demo.mobileid.simulator import simulator_trust_anchors
from tests.helpers.live_checks import GOOD_LIVE, live_check
from tests.personas import RP_A


def test_fully_configured_live_mode_with_mobile_id_passes(tmp_path: Path) -> None:
    bundle = tmp_path / "mid-ca.pem"
    bundle.write_bytes(simulator_trust_anchors()[0].public_bytes(Encoding.PEM))
    result = live_check(
        {
            **GOOD_LIVE,
            "MOBILE_ID_URL": "https://mid.sk.ee/mid-api",
            "MOBILE_ID_TRUSTED_CA_PATH": str(bundle),
            "MOBILE_ID_RELYING_PARTY_UUID": RP_A.uuid,
            "MOBILE_ID_RELYING_PARTY_NAME": "BANK",
        },
        tmp_path,
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("override", "error_id"),
    [
        ({"MOBILE_ID_SIMULATOR": "true"}, "smartid.E852"),
        ({"MOBILE_ID_URL": "http://mid.example.org/mid-api"}, "smartid.E853"),
        ({"MOBILE_ID_URL": "https://mid.example.org/mid-api"}, "smartid.E854"),
        ({"SMS_BACKEND": "enrolment.secondary.ConsoleSmsBackend"}, "smartid.E856"),
        ({"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"}, "smartid.E857"),
    ],
)
def test_live_refuses_test_only_pieces(
    override: dict[str, str], error_id: str, tmp_path: Path
) -> None:
    result = live_check({**GOOD_LIVE, **override}, tmp_path)
    assert result.returncode != 0
    assert error_id in result.stderr


def test_an_unusable_trust_bundle_is_reported_in_every_mode(tmp_path: Path) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate")
    with override_settings(MOBILE_ID_TRUSTED_CA_PATH=str(not_pem)):
        ids = [m.id for m in run_checks(tags=["smartid"])]
    assert "smartid.E851" in ids
    with override_settings(MOBILE_ID_TRUSTED_CA_PATH=str(tmp_path / "missing.pem")):
        assert "smartid.E851" in [m.id for m in run_checks(tags=["smartid"])]
