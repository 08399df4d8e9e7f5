"""The key store: both backends behave alike; keys never appear in clear; bad input fails."""

from __future__ import annotations

import os
import random
import secrets
import stat
import threading
from pathlib import Path

import pkcs11
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from django.test import override_settings
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11.types import WrapMixin

from pki import keystore as ks
from pki.keystore import (
    FileKeyStore,
    InvalidLabel,
    KeyExists,
    KeyNotFound,
    KeyStore,
    KeyStoreError,
    KeyStoreInputError,
    KeyStoreUnavailable,
    Pkcs11KeyStore,
    UnwrapError,
    get_keystore,
)
from tests.helpers.softhsm import SoftHSM

TBS = b"\x30\x82\x01\x00 to-be-signed bytes of a certificate"
SECRET = b"d1'' of a server key half: " + bytes(range(256)) * 4
CONTEXT = b"splitkey:42"
HEADER = 22  # version, algorithm, KEK id (8), nonce (12)


def new_label() -> str:
    return f"test-{secrets.token_hex(6)}"


def files_under(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()]


def found_in_files(root: Path, needle: bytes) -> list[Path]:
    return [path for path in files_under(root) if needle in path.read_bytes()]


# --- Behaviour common to both backends ----------------------------------------------


def test_generate_sign_verify(store: KeyStore) -> None:
    label = new_label()
    assert not store.has_key(label)
    public = store.generate_ec_key(label)
    assert store.has_key(label)
    assert isinstance(public.curve, ec.SECP384R1)
    assert store.public_key(label).public_numbers() == public.public_numbers()

    signature = store.sign(label, TBS)
    r, s = decode_dss_signature(signature)  # DER ECDSA-Sig-Value
    assert r > 0 and s > 0
    public.verify(signature, TBS, ec.ECDSA(hashes.SHA384()))
    with pytest.raises(InvalidSignature):
        public.verify(signature, TBS + b"!", ec.ECDSA(hashes.SHA384()))
    # Each key signs with its own private half.
    other = store.generate_ec_key(new_label())
    with pytest.raises(InvalidSignature):
        other.verify(signature, TBS, ec.ECDSA(hashes.SHA384()))


def test_sign_accepts_large_and_empty_data(store: KeyStore, rng: random.Random) -> None:
    label = new_label()
    public = store.generate_ec_key(label)
    for data in (b"", rng.randbytes(1024 * 1024)):
        public.verify(store.sign(label, data), data, ec.ECDSA(hashes.SHA384()))


def test_duplicate_label_raises(store: KeyStore) -> None:
    label = new_label()
    first = store.generate_ec_key(label)
    with pytest.raises(KeyExists):
        store.generate_ec_key(label)
    assert store.public_key(label).public_numbers() == first.public_numbers()


def test_unknown_label_raises(store: KeyStore) -> None:
    label = new_label()
    assert store.has_key(label) is False
    with pytest.raises(KeyNotFound):
        store.public_key(label)
    with pytest.raises(KeyNotFound):
        store.sign(label, TBS)
    with pytest.raises(KeyNotFound):
        store.delete_key(label)


def test_delete_key(store: KeyStore) -> None:
    label, kept = new_label(), new_label()
    old = store.generate_ec_key(label)
    store.generate_ec_key(kept)
    store.delete_key(label)
    assert not store.has_key(label)
    assert store.has_key(kept)
    with pytest.raises(KeyNotFound):
        store.sign(label, TBS)
    # The label is free again and gets a new key.
    new = store.generate_ec_key(label)
    assert new.public_numbers() != old.public_numbers()


@pytest.mark.parametrize("size", [1, 32, 3 * 384 + 100, ks.MAX_PLAINTEXT])
def test_wrap_round_trip(store: KeyStore, size: int, rng: random.Random) -> None:
    secret = rng.randbytes(size)
    blob = store.wrap(secret, context=CONTEXT)
    assert len(blob) == HEADER + size + 16
    assert blob[0] == ks.BLOB_VERSION
    assert blob[1] in (ks.ALG_AES256GCM_FILE, ks.ALG_AES256GCM_PKCS11)
    assert store.unwrap(blob, context=CONTEXT) == secret
    assert store.wrap(secret, context=CONTEXT) != blob  # a fresh nonce every time


def test_wrap_hides_the_plaintext(store: KeyStore) -> None:
    blob = store.wrap(SECRET, context=CONTEXT)
    assert SECRET[:16] not in blob
    assert SECRET[-16:] not in blob


def test_wrong_context_raises(store: KeyStore) -> None:
    blob = store.wrap(SECRET, context=b"splitkey:1")
    for context in (b"splitkey:2", b"splitkey:1 ", b"splitkey:", b"Splitkey:1"):
        with pytest.raises(UnwrapError):
            store.unwrap(blob, context=context)
    assert store.unwrap(blob, context=b"splitkey:1") == SECRET


def test_every_flipped_byte_raises(store: KeyStore) -> None:
    blob = store.wrap(b"short secret", context=CONTEXT)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(UnwrapError):
            store.unwrap(bytes(tampered), context=CONTEXT)
    assert store.unwrap(blob, context=CONTEXT) == b"short secret"


def test_truncated_or_extended_blob_raises(store: KeyStore) -> None:
    blob = store.wrap(SECRET, context=CONTEXT)
    for length in (0, 1, 2, HEADER - 1, HEADER, HEADER + 15, HEADER + 16, len(blob) - 1):
        with pytest.raises(UnwrapError):
            store.unwrap(blob[:length], context=CONTEXT)
    with pytest.raises(UnwrapError):
        store.unwrap(blob + b"\x00", context=CONTEXT)
    with pytest.raises(UnwrapError):
        store.unwrap(blob[:HEADER] + blob[HEADER + 1 :], context=CONTEXT)


def test_wrong_version_or_algorithm_tag_raises(store: KeyStore) -> None:
    blob = store.wrap(SECRET, context=CONTEXT)
    for version in (0, 2, 255):
        with pytest.raises(UnwrapError, match="version"):
            store.unwrap(bytes([version]) + blob[1:], context=CONTEXT)
    other_alg = {ks.ALG_AES256GCM_FILE: ks.ALG_AES256GCM_PKCS11}.get(blob[1], 1)
    for alg in (0, other_alg, 99):
        with pytest.raises(UnwrapError, match="algorithm"):
            store.unwrap(blob[:1] + bytes([alg]) + blob[2:], context=CONTEXT)


def test_wrong_kek_raises(store: KeyStore, other_store: KeyStore) -> None:
    blob = store.wrap(SECRET, context=CONTEXT)
    with pytest.raises(UnwrapError):
        other_store.unwrap(blob, context=CONTEXT)
    # Same KEK id, other key material: the tag check still refuses it.
    other_blob = other_store.wrap(SECRET, context=CONTEXT)
    forged = blob[:2] + other_blob[2:10] + blob[10:]
    with pytest.raises(UnwrapError):
        other_store.unwrap(forged, context=CONTEXT)


BAD_LABELS = [
    "",
    "../kek",
    "..",
    ".",
    "a/b",
    "a\\b",
    "/etc/passwd",
    "-leading-dash",
    "UPPER",
    "with space",
    "dot.ted",
    "nul\x00byte",
    "trailing-newline\n",
    "é-accent",
    "ключ",
    "a" * (ks.LABEL_MAX + 1),
    ks.PKCS11_KEK_LABEL,
]


@pytest.mark.parametrize("label", BAD_LABELS)
def test_invalid_labels_raise(store: KeyStore, label: str) -> None:
    with pytest.raises(InvalidLabel):
        store.generate_ec_key(label)
    with pytest.raises(InvalidLabel):
        store.has_key(label)
    with pytest.raises(InvalidLabel):
        store.public_key(label)
    with pytest.raises(InvalidLabel):
        store.sign(label, TBS)
    with pytest.raises(InvalidLabel):
        store.delete_key(label)


def test_longest_label_is_accepted(store: KeyStore) -> None:
    label = "z" + secrets.token_hex(8) + "_" * (ks.LABEL_MAX - 17)
    assert len(label) == ks.LABEL_MAX
    store.generate_ec_key(label)
    assert store.has_key(label)


def test_non_bytes_and_oversized_input_raise(store: KeyStore) -> None:
    label = new_label()
    store.generate_ec_key(label)
    blob = store.wrap(SECRET, context=CONTEXT)
    wrong: list[object] = ["text", 42, None, [1, 2]]
    for value in wrong:
        with pytest.raises(KeyStoreInputError):
            store.sign(label, value)  # type: ignore[arg-type]
        with pytest.raises(KeyStoreInputError):
            store.wrap(value, context=CONTEXT)  # type: ignore[arg-type]
        with pytest.raises(KeyStoreInputError):
            store.wrap(SECRET, context=value)  # type: ignore[arg-type]
        with pytest.raises(KeyStoreInputError):
            store.unwrap(value, context=CONTEXT)  # type: ignore[arg-type]
        with pytest.raises(KeyStoreInputError):
            store.unwrap(blob, context=value)  # type: ignore[arg-type]
    with pytest.raises(InvalidLabel):
        store.has_key(7)  # type: ignore[arg-type]
    with pytest.raises(KeyStoreInputError, match="larger"):
        store.wrap(b"x" * (ks.MAX_PLAINTEXT + 1), context=CONTEXT)
    with pytest.raises(KeyStoreInputError, match="empty"):
        store.wrap(b"", context=CONTEXT)
    for context in (b"", b"c" * (ks.MAX_CONTEXT + 1)):
        with pytest.raises(KeyStoreInputError, match="context"):
            store.wrap(SECRET, context=context)
        with pytest.raises(KeyStoreInputError, match="context"):
            store.unwrap(blob, context=context)


def test_key_file_contexts_are_reserved(store: KeyStore) -> None:
    with pytest.raises(KeyStoreInputError, match="reserved"):
        store.wrap(b"forged PKCS#8", context=b"eckey:ca-root")
    blob = store.wrap(SECRET, context=b"xeckey:ca-root")
    with pytest.raises(KeyStoreInputError, match="reserved"):
        store.unwrap(blob, context=b"eckey:ca-root")


def test_bytes_like_input_is_accepted(store: KeyStore) -> None:
    # PostgreSQL hands binary columns back as memoryview.
    blob = store.wrap(bytearray(SECRET), context=memoryview(CONTEXT))  # type: ignore[arg-type]
    assert store.unwrap(memoryview(blob), context=CONTEXT) == SECRET  # type: ignore[arg-type]


def test_errors_are_key_store_errors() -> None:
    for error in (
        InvalidLabel,
        KeyStoreInputError,
        KeyNotFound,
        KeyExists,
        UnwrapError,
        KeyStoreUnavailable,
    ):
        assert issubclass(error, KeyStoreError)
        assert not issubclass(error, ValueError | LookupError | OSError | RuntimeError)


def test_concurrent_use_from_threads(store: KeyStore) -> None:
    label = new_label()
    public = store.generate_ec_key(label)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(10):
                data = f"{n}:{i}".encode()
                public.verify(store.sign(label, data), data, ec.ECDSA(hashes.SHA384()))
                context = f"splitkey:{n}".encode()
                assert store.unwrap(store.wrap(data, context=context), context=context) == data
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not failures
    assert not any(thread.is_alive() for thread in threads)


def test_blobs_do_not_cross_backends(
    file_store: FileKeyStore, pkcs11_store: Pkcs11KeyStore
) -> None:
    with pytest.raises(UnwrapError, match="algorithm"):
        pkcs11_store.unwrap(file_store.wrap(SECRET, context=CONTEXT), context=CONTEXT)
    with pytest.raises(UnwrapError, match="algorithm"):
        file_store.unwrap(pkcs11_store.wrap(SECRET, context=CONTEXT), context=CONTEXT)


# --- File backend -------------------------------------------------------------------


def test_file_kek_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    kek_file = tmp_path / "new" / "kek.bin"
    first = FileKeyStore(kek_file=kek_file)
    blob = first.wrap(SECRET, context=CONTEXT)
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    assert len(kek_file.read_bytes()) == 32
    kek = kek_file.read_bytes()
    # Another process (another instance) uses the same KEK, not a new one.
    second = FileKeyStore(kek_file=kek_file)
    assert second.unwrap(blob, context=CONTEXT) == SECRET
    assert kek_file.read_bytes() == kek
    assert sorted(p.name for p in kek_file.parent.iterdir()) == ["kek.bin"]


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o660])
def test_file_kek_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    kek_file = tmp_path / "kek.bin"
    FileKeyStore(kek_file=kek_file).wrap(SECRET, context=CONTEXT)
    os.chmod(kek_file, mode)
    with pytest.raises(KeyStoreUnavailable, match="chmod 600"):
        FileKeyStore(kek_file=kek_file).wrap(SECRET, context=CONTEXT)


@pytest.mark.parametrize("content", [b"", b"short", secrets.token_bytes(33)])
def test_file_kek_of_wrong_size_is_refused(tmp_path: Path, content: bytes) -> None:
    kek_file = tmp_path / "kek.bin"
    kek_file.write_bytes(content)
    os.chmod(kek_file, 0o600)
    with pytest.raises(KeyStoreUnavailable, match="32 bytes"):
        FileKeyStore(kek_file=kek_file).unwrap(b"\x01" * 60, context=CONTEXT)


def test_file_kek_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "kek.bin").mkdir()
    with pytest.raises(KeyStoreUnavailable):
        FileKeyStore(kek_file=tmp_path / "kek.bin").wrap(SECRET, context=CONTEXT)


def test_file_lost_kek_is_not_silently_replaced(tmp_path: Path) -> None:
    kek_file = tmp_path / "kek.bin"
    FileKeyStore(kek_file=kek_file).generate_ec_key("ca-root")
    kek_file.unlink()
    with pytest.raises(KeyStoreUnavailable, match="restore the KEK"):
        FileKeyStore(kek_file=kek_file).sign("ca-root", TBS)
    assert not kek_file.exists()


def test_file_key_files(file_store: FileKeyStore) -> None:
    file_store.generate_ec_key("ca-root-0123")
    path = file_store.keys_dir / "ca-root-0123.key"
    assert file_store.keys_dir == file_store.kek_file.parent / "keys"
    assert [p.name for p in file_store.keys_dir.iterdir()] == ["ca-root-0123.key"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(file_store.keys_dir.stat().st_mode) == 0o700
    assert path.read_bytes()[:2] == bytes([ks.BLOB_VERSION, ks.ALG_AES256GCM_FILE])


def test_file_key_bound_to_its_label(file_store: FileKeyStore) -> None:
    file_store.generate_ec_key("genuine")
    keys = file_store.keys_dir
    # An attacker with write access swaps the files of two labels.
    (keys / "genuine.key").rename(keys / "impostor.key")
    with pytest.raises(KeyStoreError, match="cannot be unwrapped"):
        file_store.sign("impostor", TBS)
    # Nor does a key file open through the public unwrap().
    blob = (keys / "impostor.key").read_bytes()
    with pytest.raises(KeyStoreInputError, match="reserved"):
        file_store.unwrap(blob, context=b"eckey:impostor")


def test_file_tampered_key_file_raises(file_store: FileKeyStore) -> None:
    file_store.generate_ec_key("victim")
    path = file_store.keys_dir / "victim.key"
    data = bytearray(path.read_bytes())
    data[40] ^= 0x80
    path.write_bytes(bytes(data))
    with pytest.raises(KeyStoreError):
        file_store.sign("victim", TBS)
    with pytest.raises(KeyStoreError):
        file_store.public_key("victim")


def test_file_no_path_traversal(tmp_path: Path) -> None:
    store = FileKeyStore(kek_file=tmp_path / "data" / "kek.bin")
    for label in ("../escaped", "../../etc/x", "/tmp/abs"):  # noqa: S108 -- never created
        with pytest.raises(InvalidLabel):
            store.generate_ec_key(label)
    assert not (tmp_path / "data" / "escaped.key").exists()
    assert not list(tmp_path.rglob("*.key"))


def test_file_ca_key_never_on_disk_in_clear(tmp_path: Path) -> None:
    store = FileKeyStore(kek_file=tmp_path / "data" / "kek.bin")
    public = store.generate_ec_key("ca-root")
    store.generate_ec_key("ca-eid-q")
    # Only the store's internals can unwrap the private key; the test uses them to
    # know what to look for.
    private = store._load_private_key("ca-root")
    assert private.public_key().public_numbers() == public.public_numbers()
    scalar = private.private_numbers().private_value.to_bytes(48, "big")
    pkcs8 = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    traditional = private.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    assert len(files_under(tmp_path)) == 3  # kek.bin and two key files
    for needle in (scalar, scalar[:16], scalar[-16:], pkcs8, traditional, b"PRIVATE KEY"):
        assert found_in_files(tmp_path, needle) == []
    # The search works: the KEK itself is found in its own file.
    assert found_in_files(tmp_path, store.kek_file.read_bytes()) == [store.kek_file]


# --- PKCS#11 backend ----------------------------------------------------------------


def test_pkcs11_private_key_is_sensitive_and_non_extractable(
    pkcs11_store: Pkcs11KeyStore,
) -> None:
    label = new_label()
    pkcs11_store.generate_ec_key(label)
    pkcs11_store.wrap(SECRET, context=CONTEXT)  # makes sure the KEK exists
    with pkcs11_store._token() as session:
        private = session.get_key(ObjectClass.PRIVATE_KEY, KeyType.EC, label=label)
        kek = session.get_key(ObjectClass.SECRET_KEY, KeyType.AES, label=ks.PKCS11_KEK_LABEL)
        for key in (private, kek):
            assert key[Attribute.TOKEN] is True
            assert key[Attribute.PRIVATE] is True
            assert key[Attribute.SENSITIVE] is True
            assert key[Attribute.EXTRACTABLE] is False
            assert key[Attribute.ALWAYS_SENSITIVE] is True
            assert key[Attribute.NEVER_EXTRACTABLE] is True
            # C_GetAttributeValue(CKA_VALUE) is refused by the token.
            with pytest.raises(pkcs11.exceptions.AttributeSensitive):
                key[Attribute.VALUE]
        assert private[Attribute.SIGN] is True
        assert private[Attribute.DERIVE] is False
        assert private[Attribute.UNWRAP] is False
        assert kek[Attribute.SIGN] is False
        assert kek[Attribute.WRAP] is False
        assert kek[Attribute.VALUE_LEN] == 32
        assert not isinstance(kek, WrapMixin)
        # Nor can any wrapping key take the private key out of the token.
        wrapper = session.generate_key(
            KeyType.AES, 256, capabilities=MechanismFlag.WRAP | MechanismFlag.UNWRAP
        )
        assert isinstance(wrapper, WrapMixin)
        with pytest.raises(pkcs11.exceptions.KeyUnextractable):
            wrapper.wrap_key(private)


def test_pkcs11_secrets_not_in_token_files(
    softhsm: SoftHSM, pkcs11_store: Pkcs11KeyStore, rng: random.Random
) -> None:
    label = new_label()
    public = pkcs11_store.generate_ec_key(label)
    secret = rng.randbytes(512)
    blob = pkcs11_store.wrap(secret, context=CONTEXT)
    assert secret[:16] not in blob
    for needle in (secret, secret[:16], secret[-16:]):
        assert found_in_files(softhsm.token_dir, needle) == []
    # The search sees the token's objects: the public point is stored in clear.
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert found_in_files(softhsm.token_dir, point)


def test_pkcs11_token_encrypts_private_objects_at_rest(
    softhsm: SoftHSM, pkcs11_store: Pkcs11KeyStore
) -> None:
    """The store's keys are made in the token, so their scalar is unknown to any test;
    a known key imported with the same template shows how the token keeps it on disk."""
    known = ec.generate_private_key(ec.SECP384R1())
    scalar = known.private_numbers().private_value.to_bytes(48, "big")
    with pkcs11_store._token() as session:
        obj = session.create_object(
            {
                **ks.EC_PRIVATE_TEMPLATE,
                Attribute.CLASS: ObjectClass.PRIVATE_KEY,
                Attribute.KEY_TYPE: KeyType.EC,
                Attribute.LABEL: "known-test-key",
                Attribute.EC_PARAMS: bytes.fromhex("06052b81040022"),  # secp384r1
                Attribute.VALUE: scalar,
            }
        )
        try:
            assert found_in_files(softhsm.token_dir, scalar) == []
            assert found_in_files(softhsm.token_dir, scalar[:16]) == []
        finally:
            obj.destroy()


def test_pkcs11_wrong_pin(softhsm: SoftHSM) -> None:
    store = softhsm.store(softhsm.pin_token, pin="0000-wrong")
    with pytest.raises(KeyStoreUnavailable, match="login"):
        store.has_key("any")
    # Not tried again: an HSM would lock the user PIN after a few wrong tries.
    with pytest.raises(KeyStoreUnavailable, match="not retried"):
        store.wrap(SECRET, context=CONTEXT)


def test_pkcs11_unknown_token_or_module(softhsm: SoftHSM) -> None:
    with pytest.raises(KeyStoreUnavailable, match="No PKCS#11 token"):
        softhsm.store("no-such-token").has_key("any")
    missing = Pkcs11KeyStore(module="/nonexistent/libpkcs11.so", token_label="x", pin="1")
    with pytest.raises(KeyStoreUnavailable, match="Cannot load"):
        missing.generate_ec_key("any")


def test_pkcs11_session_reopens_after_close(pkcs11_store: Pkcs11KeyStore) -> None:
    label = new_label()
    public = pkcs11_store.generate_ec_key(label)
    blob = pkcs11_store.wrap(SECRET, context=CONTEXT)
    pkcs11_store.close()
    public.verify(pkcs11_store.sign(label, TBS), TBS, ec.ECDSA(hashes.SHA384()))
    assert pkcs11_store.unwrap(blob, context=CONTEXT) == SECRET


def test_pkcs11_stores_share_the_token(softhsm: SoftHSM) -> None:
    first, second = softhsm.store(), softhsm.store()
    label = new_label()
    public = first.generate_ec_key(label)
    assert second.public_key(label).public_numbers() == public.public_numbers()
    assert second.unwrap(first.wrap(SECRET, context=CONTEXT), context=CONTEXT) == SECRET


# --- get_keystore() -----------------------------------------------------------------


def test_get_keystore_default_is_the_file_store(tmp_path: Path) -> None:
    kek_file = tmp_path / "kek.bin"
    with override_settings(KEYSTORE_BACKEND="file", KEYSTORE_KEK_FILE=kek_file):
        store = get_keystore()
        assert isinstance(store, FileKeyStore)
        assert store.kek_file == kek_file
        assert get_keystore() is store  # cached per process
    assert get_keystore() is not store  # settings changed back: built anew


def test_get_keystore_pkcs11(softhsm: SoftHSM) -> None:
    with override_settings(
        KEYSTORE_BACKEND="pkcs11",
        PKCS11_MODULE=softhsm.module,
        PKCS11_TOKEN_LABEL=softhsm.token,
        PKCS11_PIN=softhsm.pin,
    ):
        get_keystore.cache_clear()
        store = get_keystore()
        assert isinstance(store, Pkcs11KeyStore)
        assert (store.module, store.token_label) == (softhsm.module, softhsm.token)
        assert softhsm.pin not in repr(store)
        label = new_label()
        public = store.generate_ec_key(label)
        public.verify(store.sign(label, TBS), TBS, ec.ECDSA(hashes.SHA384()))
        assert get_keystore() is store


def test_keystore_in_tmp_fixture(keystore_in_tmp: KeyStore, tmp_path: Path) -> None:
    assert get_keystore() is keystore_in_tmp
    keystore_in_tmp.generate_ec_key("ca-root")
    assert (tmp_path / "keystore" / "keys" / "ca-root.key").is_file()
