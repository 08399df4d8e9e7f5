"""Key-store fixtures: a file store in a temporary folder and real SoftHSM2 tokens.

``softhsm`` makes fresh tokens in a temporary folder once per session. Without
SoftHSM2 the PKCS#11 tests are skipped locally but fail in CI (``CI=true``),
where ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import override_settings

from pki.keystore import FileKeyStore, KeyStore, Pkcs11KeyStore, get_keystore, pkcs11_reset
from tests.helpers.softhsm import SO_PIN, SOFTHSM_MODULE, USER_PIN, SoftHSM, softhsm_missing


@pytest.fixture(scope="session")
def softhsm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHSM]:
    missing = softhsm_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"SoftHSM2 is required in CI: {missing}", pytrace=False)
        pytest.skip(f"SoftHSM2 not installed: {missing}")
    root = tmp_path_factory.mktemp("softhsm")
    token_dir = root / "tokens"
    token_dir.mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="utf-8",
    )
    saved = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    hsm = SoftHSM(module=SOFTHSM_MODULE, token_dir=token_dir, pin=USER_PIN)
    try:
        for label in (hsm.token, hsm.other_token, hsm.pin_token):
            subprocess.run(
                [
                    "softhsm2-util",
                    "--init-token",
                    "--free",
                    "--label",
                    label,
                    "--so-pin",
                    SO_PIN,
                    "--pin",
                    USER_PIN,
                ],  # fmt: skip
                check=True,
                capture_output=True,
                timeout=30,
            )
        # The module reads SOFTHSM2_CONF when it is initialised: start it afresh.
        pkcs11_reset(SOFTHSM_MODULE)
        yield hsm
    finally:
        pkcs11_reset(SOFTHSM_MODULE)
        if saved is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = saved


@pytest.fixture
def file_store(tmp_path: Path) -> FileKeyStore:
    return FileKeyStore(kek_file=tmp_path / "data" / "kek.bin")


@pytest.fixture
def pkcs11_store(softhsm: SoftHSM) -> Pkcs11KeyStore:
    return softhsm.store()


@pytest.fixture(params=["file", "pkcs11"])
def store(request: pytest.FixtureRequest) -> KeyStore:
    """Each behavioural test runs against both backends."""
    backend: KeyStore = request.getfixturevalue(f"{request.param}_store")
    return backend


@pytest.fixture
def other_store(request: pytest.FixtureRequest, store: KeyStore, tmp_path: Path) -> KeyStore:
    """A store of the same kind as ``store`` with another KEK."""
    if isinstance(store, FileKeyStore):
        return FileKeyStore(kek_file=tmp_path / "other" / "kek.bin")
    hsm: SoftHSM = request.getfixturevalue("softhsm")
    return hsm.store(hsm.other_token)


@pytest.fixture
def keystore_in_tmp(tmp_path: Path) -> Iterator[KeyStore]:
    """Point the process key store (``get_keystore()``) at a file store in ``tmp_path``.

    For tests of code that signs or wraps through ``get_keystore()`` and should not
    leave keys in the shared data folder.
    """
    # override_settings makes pki.keystore drop its cached store on entry and exit.
    with override_settings(
        KEYSTORE_BACKEND="file", KEYSTORE_KEK_FILE=tmp_path / "keystore" / "kek.bin"
    ):
        yield get_keystore()
