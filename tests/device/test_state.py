"""The device state: what it holds, the 0600 file, atomic writes, refusing lax permissions."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from device import DeviceApp, FileStore, MemoryStore, RegistrationResult, StateError
from device.state import PendingRenewal, dumps, loads
from tests.helpers.device import make_app

Registered = tuple[DeviceApp, RegistrationResult]


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "device.json"


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_missing_file_is_an_empty_state(path: Path) -> None:
    state = FileStore(path).load()
    assert state.accounts == {} and state.device_key is None and not path.exists()


def test_round_trip_with_mode_0600_whatever_the_umask(registered: Registered, path: Path) -> None:
    app, result = registered
    state = app._store.load()
    old = os.umask(0)
    try:
        FileStore(path).save(state)
    finally:
        os.umask(old)
    assert _mode(path) == 0o600
    again = FileStore(path).load()
    assert dumps(again) == dumps(state)
    assert again.accounts[result.document_number].keys["AUTH"].blob == (
        state.accounts[result.document_number].keys["AUTH"].blob
    )
    # The app works from the file store exactly as from memory.
    file_app = make_app(app._client, FileStore(path))
    assert file_app.refresh(result.document_number, "AUTH") == "OK"
    assert FileStore(path).load().accounts[result.document_number].keys["AUTH"].token == (
        file_app.local_accounts()[0].keys["AUTH"].token
    )


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o606, 0o620])
def test_a_file_open_to_group_or_others_is_refused(
    registered: Registered, path: Path, mode: int
) -> None:
    app, _ = registered
    FileStore(path).save(app._store.load())
    path.chmod(mode)
    with pytest.raises(StateError, match="chmod 600") as info:
        FileStore(path).load()
    assert f"{mode:04o}" in str(info.value)


def test_symlinks_and_folders_are_refused(tmp_path: Path, path: Path) -> None:
    FileStore(path).save(MemoryStore().load())
    link = tmp_path / "link.json"
    link.symlink_to(path)
    with pytest.raises(StateError, match="cannot open"):
        FileStore(link).load()
    folder = tmp_path / "folder"
    folder.mkdir(mode=0o700)
    with pytest.raises(StateError, match="not a regular file"):
        FileStore(folder).load()


def test_writes_are_atomic(
    registered: Registered, path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, _ = registered
    store = FileStore(path)
    store.save(MemoryStore().load())
    before = path.read_bytes()
    inode = path.stat().st_ino

    def broken_fsync(fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        store.save(app._store.load())
    monkeypatch.undo()
    # The old file is intact and no temporary file is left behind.
    assert path.read_bytes() == before and path.stat().st_ino == inode
    assert sorted(p.name for p in path.parent.iterdir()) == ["device.json"]
    store.save(app._store.load())
    assert path.stat().st_ino != inode  # replaced by rename, never rewritten in place
    assert sorted(p.name for p in path.parent.iterdir()) == ["device.json"]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[]",
        b'{"version": 2, "baseUrl": null, "device": {"id": null, "key": null},'
        b' "transportKey": null, "accounts": {}}',
        b'{"version": 1, "baseUrl": null, "device": {"id": null, "key": null},'
        b' "transportKey": null, "accounts": {}, "d1pp": "00"}',
        b'{"version": 1, "baseUrl": null, "device": {"id": null, "key": "AAAA"},'
        b' "transportKey": null, "accounts": {}}',
        b'{"version": 1, "baseUrl": null, "device": {"id": null, "key": null},'
        b' "transportKey": "AAAA", "accounts": {}}',
        b'{"version": 1, "baseUrl": null, "device": {"id": null, "key": null},'
        b' "transportKey": null, "accounts": {}, "pendingDeviceKey": "AAAA"}',
        b"[" * 100_000,
        b" " * (1 << 20) + b"{}",
    ],
)
def test_damaged_files_are_refused_clearly(path: Path, content: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    with pytest.raises(StateError, match="damaged"):
        FileStore(path).load()


def test_unknown_key_fields_are_refused(registered: Registered) -> None:
    app, result = registered
    data = json.loads(dumps(app._store.load()))
    data["accounts"][result.document_number]["keys"]["AUTH"]["d1pp"] = "00"
    with pytest.raises(StateError):
        loads(json.dumps(data).encode())
    data = json.loads(dumps(app._store.load()))
    data["accounts"][result.document_number]["keys"]["AUTH"]["blob"]["kdf"]["n"] = 2**30
    with pytest.raises(StateError):
        loads(json.dumps(data).encode())


def test_the_lock_file_is_private(path: Path) -> None:
    store = FileStore(path)
    with store.locked():
        store.save(MemoryStore().load())
    assert _mode(path.with_name("device.json.lock")) == 0o600


def test_a_pending_device_key_is_kept_only_while_there_is_one(registered: Registered) -> None:
    app, _ = registered
    assert "pendingDeviceKey" not in json.loads(dumps(app._state))  # older apps read it
    pending = ec.generate_private_key(ec.SECP256R1())
    app._state.pending_device_key = pending
    loaded = loads(dumps(app._state))
    assert loaded.pending_device_key is not None
    assert loaded.pending_device_key.private_numbers() == pending.private_numbers()


def test_a_pending_renewal_round_trips_and_is_absent_otherwise(
    registered: Registered, path: Path
) -> None:
    """A re-key waiting for the service's swap (docs/device.md): its new keys are kept
    like the current ones, its §8.3 request byte for byte; a state without one has no
    field for it (state files written before it existed still load)."""
    app, result = registered
    state = app._store.load()
    account = state.accounts[result.document_number]
    assert "pendingRenewal" not in json.loads(dumps(state))["accounts"][result.document_number]
    new_keys = loads(dumps(state)).accounts[result.document_number].keys
    for key in new_keys.values():
        key.token, key.certificate, key.state = os.urandom(16), None, "REGISTERING"
    account.renewal = PendingRenewal("1b4e28ba-2fa1-41d2-883f-0016d3cca427", new_keys, b'{"k":1}')
    FileStore(path).save(state)
    again = FileStore(path).load().accounts[result.document_number]
    assert again.renewal is not None
    assert again.renewal.renewal_id == "1b4e28ba-2fa1-41d2-883f-0016d3cca427"
    assert again.renewal.request == b'{"k":1}'
    for purpose in ("AUTH", "SIGN"):
        kept, made = again.renewal.keys[purpose], new_keys[purpose]
        assert (kept.blob, kept.n, kept.token, kept.certificate) == (
            made.blob,
            made.n,
            made.token,
            None,
        )
        assert again.keys[purpose].token == account.keys[purpose].token  # the old keys stay
    assert dumps(FileStore(path).load()) == dumps(state)
    # The request answered: None round-trips too.
    account.renewal.request = None
    assert loads(dumps(state)).accounts[result.document_number].renewal.request is None  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "damage",
    [
        lambda r: r.pop("request"),
        lambda r: r.update(extra=1),
        lambda r: r["keys"].pop("SIGN"),
        lambda r: r["keys"]["AUTH"].update(token=None),
        lambda r: r.update(renewalId=7),
    ],
)
def test_a_malformed_pending_renewal_is_refused(registered: Registered, damage: Any) -> None:
    app, result = registered
    state = app._store.load()
    account = state.accounts[result.document_number]
    account.renewal = PendingRenewal(
        "r", loads(dumps(state)).accounts[account.document_number].keys
    )
    data = json.loads(dumps(state))
    damage(data["accounts"][result.document_number]["pendingRenewal"])
    with pytest.raises(StateError):
        loads(json.dumps(data).encode())
