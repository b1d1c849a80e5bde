"""Text as overlap checks compare it: deduplication and the contamination check must agree on "the same"."""

from __future__ import annotations

import re
import unicodedata

_NOT_TEXT = re.compile(r"[\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    """What makes two prompts "the same": case, width, spaces and punctuation do not count."""
    return _NOT_TEXT.sub("", unicodedata.normalize("NFKC", text).lower())
