"""A backend fake that answers at once with a fixed reply and keeps what it was asked, so a test can read
the prompt and the sampling arguments a route built."""

from __future__ import annotations

from kgft.backends.base import ChatMessage, Generation
from kgft.contract import Cost
from kgft.pricing import PriceBook


class RecordingBackend:
    spec = "fake:recorder"
    model = "recorder"
    can_score = False

    def __init__(
        self,
        text: str,
        prompt_tokens: int,
        completion_tokens: int,
        generation_ms: float,
        finish_reason: str = "stop",
    ) -> None:
        self.reply = Generation(
            text, self.model, prompt_tokens, completion_tokens, generation_ms, finish_reason=finish_reason
        )
        self.calls: list[tuple[list[ChatMessage], dict]] = []

    def generate(self, messages, **kwargs) -> Generation:
        self.calls.append((list(messages), kwargs))
        return self.reply

    def cost(self, generation: Generation, prices: PriceBook) -> Cost:
        return prices.compute_cost("cpu", generation.generation_ms / 1000, cores=1)

    def close(self) -> None:
        pass
