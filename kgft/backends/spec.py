"""Backend specs: `SCHEME:TARGET[?key=value&...]`, e.g. `hf:./model?adapter=./lora`."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from kgft.errors import BackendSpecError

SPEC_HELP = "use gguf:smollm2|PATH.gguf, hf:MODEL_ID|DIR[?adapter=DIR] or openai:MODEL[?base_url=URL]"


@dataclass(frozen=True)
class BackendSpec:
    scheme: str
    target: str
    options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, spec: str) -> BackendSpec:
        scheme, sep, rest = spec.partition(":")
        if not sep or not scheme or not rest:
            raise BackendSpecError(f"backend spec '{spec}' is not SCHEME:TARGET; {SPEC_HELP}")
        target, _, query = rest.partition("?")
        if not target:
            raise BackendSpecError(f"backend spec '{spec}' names no model; {SPEC_HELP}")
        try:
            options = dict(parse_qsl(query, keep_blank_values=False, strict_parsing=bool(query)))
        except ValueError as exc:
            raise BackendSpecError(f"backend spec '{spec}' has malformed options after '?'") from exc
        return cls(scheme=scheme.lower(), target=target, options=options)

    def option(self, key: str) -> str | None:
        return self.options.get(key)

    def tokens(self, key: str) -> int | None:
        """A token-count option (`ctx`), checked: a whole number, at least 16."""
        value = self.options.get(key)
        if value is None:
            return None
        if not value.isdigit() or int(value) < 16:
            raise BackendSpecError(f"{key} must be a whole number of tokens, at least 16; got '{value}'")
        return int(value)

    def check_options(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.options) - allowed)
        if unknown:
            known = ", ".join(sorted(allowed)) or "none"
            raise BackendSpecError(f"unknown option(s) {unknown} for {self.scheme}: backends; known: {known}")
