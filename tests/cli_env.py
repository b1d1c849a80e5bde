"""What a `kgft` subprocess in a test inherits on purpose from the test session."""

from __future__ import annotations

import os


def shared_model_cache() -> dict[str, str]:
    """KGFT_MODEL_CACHE as conftest sets it, so a subprocess reuses the session's SmolLM2 conversion
    (~20 s each) instead of converting into its fresh home."""
    cache = os.environ.get("KGFT_MODEL_CACHE")
    return {} if cache is None else {"KGFT_MODEL_CACHE": cache}
