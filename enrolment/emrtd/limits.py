"""Size limits of every input, in bytes. Real documents need a fraction of each.

A DG2 with a 19794-5 JPEG is 15–40 KB, an EF.SOD 1.5–4 KB, DG1 at most 95 bytes.
"""

from __future__ import annotations

SOD_MAX = 64 * 1024
DG_MAX: dict[int, int] = {1: 256, 2: 512 * 1024, 14: 16 * 1024, 15: 4 * 1024}
DG_DEFAULT_MAX = 64 * 1024
#: An ICAO master list with a few hundred CSCA certificates is 1–2 MB.
MASTER_LIST_MAX = 16 * 1024 * 1024
MASTER_LIST_MAX_ELEMENTS = 2_000_000
TRUST_FILE_MAX = 1024 * 1024


def dg_max(number: int) -> int:
    return DG_MAX.get(number, DG_DEFAULT_MAX)


#: The longest PSS salt a SOD signature may name: the largest hash (SHA-512) is 64 bytes;
#: 512 leaves room for any real profile and refuses nonsense (and negative values) early.
PSS_MAX_SALT = 512
