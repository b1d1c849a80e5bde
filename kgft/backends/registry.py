"""Spec scheme → backend class. Imports are lazy so `gguf:` never pays for torch."""

from __future__ import annotations

import threading
from collections.abc import Callable
from importlib import import_module

from kgft.backends.base import LLMBackend
from kgft.backends.spec import SPEC_HELP, BackendSpec
from kgft.errors import BackendSpecError
from kgft.settings import Settings

_SCHEMES: dict[str, str] = {
    "gguf": "kgft.backends.gguf:GGUFBackend",
    "hf": "kgft.backends.hf:HFBackend",
    "openai": "kgft.backends.openai_compat:OpenAIBackend",
}


# Models load, and routes build (kgft.routes), one at a time: transformers' lazy imports and
# from_pretrained are not thread-safe. The gateway building the FT route in its thread while the first
# MCQ loaded the KG route's scoring twin gave "cannot import name 'AutoModelForCausalLM'", or a twin
# whose lm_head was left random ("MISSING", newly initialised) answering garbage. Two loads at once on
# a few cores buy nothing anyway.
MODEL_LOADING = threading.RLock()


def _backend_class(scheme: str) -> Callable[[BackendSpec, Settings], LLMBackend]:
    module_name, _, class_name = _SCHEMES[scheme].partition(":")
    return getattr(import_module(module_name), class_name)


def create_backend(spec: str, settings: Settings) -> LLMBackend:
    """Build the backend a spec names; every failure is a KgftError with a one-line reason."""
    parsed = BackendSpec.parse(spec)
    if parsed.scheme not in _SCHEMES:
        raise BackendSpecError(f"unknown backend '{parsed.scheme}' in '{spec}'; {SPEC_HELP}")
    with MODEL_LOADING:
        return _backend_class(parsed.scheme)(parsed, settings)
