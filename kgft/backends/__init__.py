"""LLM backends behind one interface; build one with `create_backend(spec, settings)`."""

from kgft.backends.base import ChatMessage, Generation, LLMBackend, Scoring
from kgft.backends.registry import create_backend

__all__ = ["ChatMessage", "Generation", "LLMBackend", "Scoring", "create_backend"]
