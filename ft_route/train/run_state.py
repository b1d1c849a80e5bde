"""Where a run is and what it has used so far: the loop adds to it, a checkpoint carries it, the card and the
ledger entry report it."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class RunState:
    """Where a run is and what it has used so far; a checkpoint carries it so a resumed run adds to it."""

    step: int = 0
    examples: int = 0  # examples trained on, counting repeats across epochs
    tokens: int = 0
    answer_tokens: int = 0
    train_seconds: float = 0.0
    device_seconds: float = 0.0  # spent by earlier, interrupted runs of this output folder
    losses: list[float] = field(default_factory=list)
    data_hash: str = ""
    method: str = ""
    # Where this process took over from a checkpoint; not saved, so each run ledgers only its own share.
    resumed_from: int | None = field(default=None, metadata={"saved": False})
    resumed_tokens: int = field(default=0, metadata={"saved": False})

    def saved(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("saved", True)}

    def restore(self, saved: RunState) -> None:
        for name, value in saved.saved().items():
            setattr(self, name, value)
        self.resumed_from, self.resumed_tokens = saved.step, saved.tokens
