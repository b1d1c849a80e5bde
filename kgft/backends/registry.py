"""Spec scheme → backend class. Imports are lazy so `gguf:` never pays for torch."""

from __future__ import annotations

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


def _backend_class(scheme: str) -> Callable[[BackendSpec, Settings], LLMBackend]:
    module_name, _, class_name = _SCHEMES[scheme].partition(":")
    return getattr(import_module(module_name), class_name)


def create_backend(spec: str, settings: Settings) -> LLMBackend:
    """Build the backend a spec names; every failure is a KgftError with a one-line reason."""
    parsed = BackendSpec.parse(spec)
    if parsed.scheme not in _SCHEMES:
        raise BackendSpecError(f"unknown backend '{parsed.scheme}' in '{spec}'; {SPEC_HELP}")
    return _backend_class(parsed.scheme)(parsed, settings)
