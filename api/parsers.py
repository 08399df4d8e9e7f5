"""JSON parsing for every API: too-deep nesting is a 400, never a 500."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: Any = None, parser_context: Any = None) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:  # json's C decoder: not a ValueError, so DRF lets it out (500)
            raise ParseError("JSON parse error - nested too deeply.") from None
