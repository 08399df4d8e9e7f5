"""How a code that a person types is read: the one rule for every code we print and ask back.

Codes are printed in groups for the eye — a registration ticket as ``ABCD-EFGH-…``, the
secondary authentication's one-time code as ``1247 3521``, an authenticator app's TOTP as
``123 456`` — and people type them back as they see them, or paste them with a stray space,
a no-break space or the typographic dash a word processor made of the hyphen. Every place
that takes such a code (ticket redemption, the secondary code of the app API, the RA
office's TOTP form) reads it through :func:`normalise_typed_code`, so a code is accepted as
it was printed.
"""

from __future__ import annotations

import re

#: What separates the groups of a printed code: any whitespace (incl. no-break and thin
#: spaces) and the hyphen with its typographic look-alikes (U+2010-U+2015, minus U+2212).
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212]+")


def normalise_typed_code(value: str) -> str:
    """The code without its group separators, letters in upper case (Base32 tickets).

    Nothing else is changed: whether the rest is a valid code (digits only, a length) is
    the caller's rule. Callers bound the length of ``value`` first.
    """
    return _SEPARATORS.sub("", value).upper()
