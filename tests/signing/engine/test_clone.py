"""One-time tokens and the retransmit-nonce rule."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from signing.engine import (
    Retransmit,
    RetransmitRecord,
    TokenMismatch,
    check_token,
    classify_retransmit,
    hash_token,
    new_token,
    seal_response,
    token_matches,
)
from signing.engine.errors import InvalidBlob, InvalidLength


def test_tokens_are_128_bit_and_stored_hashed() -> None:
    token, stored = new_token()
    assert len(token) == 16 and stored == hashlib.sha256(token).digest() == hash_token(token)
    assert token not in stored
    assert token_matches(token, stored)
    check_token(token, stored)
    other, _ = new_token()
    assert other != token and not token_matches(other, stored)
    with pytest.raises(TokenMismatch):
        check_token(other, stored)


@pytest.mark.parametrize("bad", [b"", b"x" * 15, b"x" * 17, "x" * 16, None])
def test_token_lengths(bad: object) -> None:
    _, stored = new_token()
    with pytest.raises(InvalidLength):
        token_matches(bad, stored)  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        hash_token(bad)  # type: ignore[arg-type]
    token, _ = new_token()
    with pytest.raises(InvalidLength):
        token_matches(token, stored[:16])


def test_retransmit_rule() -> None:
    nonce = secrets.token_bytes(16)
    digest = hashlib.sha256(b"request").digest()
    assert classify_retransmit(None, nonce, digest).kind is Retransmit.NEW
    record = seal_response(nonce, digest, b"cached response")
    assert b"cached response" not in record.sealed_response
    replay = classify_retransmit(record, nonce, digest)
    assert replay.kind is Retransmit.REPLAY and replay.response == b"cached response"
    other_digest = hashlib.sha256(b"other").digest()
    assert classify_retransmit(record, nonce, other_digest).kind is Retransmit.CONFLICT
    assert classify_retransmit(record, secrets.token_bytes(16), digest).kind is Retransmit.NEW
    assert classify_retransmit(record, secrets.token_bytes(64), other_digest).kind is Retransmit.NEW


def test_retransmit_validation() -> None:
    digest = hashlib.sha256(b"request").digest()
    for nonce in (b"x" * 15, b"x" * 65, "x" * 16):
        with pytest.raises(InvalidLength):
            classify_retransmit(None, nonce, digest)  # type: ignore[arg-type]
        with pytest.raises(InvalidLength):
            seal_response(nonce, digest, b"r")  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        classify_retransmit(None, b"x" * 16, digest[:31])
    with pytest.raises(InvalidLength):
        seal_response(b"x" * 16, digest, "response")  # type: ignore[arg-type]
    with pytest.raises(InvalidLength):
        RetransmitRecord(bytes(32), bytes(32), b"short")
    record = seal_response(b"n" * 16, digest, b"response")
    tampered = RetransmitRecord(
        record.nonce_hash,
        record.request_digest,
        record.sealed_response[:-1] + bytes([record.sealed_response[-1] ^ 1]),
    )
    with pytest.raises(InvalidBlob):
        classify_retransmit(tampered, b"n" * 16, digest)
