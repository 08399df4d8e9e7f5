"""The Smart-ID Java client's JSON bodies (tests/data/corpus/, MIT-licensed, see README.md
there): what the official client sends and accepts, the oracle of the RP API's shape."""

from __future__ import annotations

from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "data" / "corpus" / "smart-id-java-client-2.3.1"


def corpus_files(folder: str) -> list[Path]:
    """The JSON files of ``requests`` or ``responses``, sorted; never an empty list (a test
    over no files would pass while testing nothing)."""
    paths = sorted((CORPUS / folder).glob("*.json"))
    assert paths, f"no corpus files in {CORPUS / folder}: the test data is missing"
    return paths


CORPUS_V3 = CORPUS.parent / "smart-id-java-client-3.1"


def corpus_v3_files(folder: str) -> list[Path]:
    """The v3 JSON files under ``requests`` or ``responses`` (recursively), as
    :func:`corpus_files` never an empty list."""
    paths = sorted((CORPUS_V3 / folder).rglob("*.json"))
    assert paths, f"no corpus files in {CORPUS_V3 / folder}: the test data is missing"
    return paths
