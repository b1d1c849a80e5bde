"""How hard the base model finds each example: the loss of its reference response, per character.

s1 kept the questions its base models got wrong. Free-text answers have no right/wrong, so the
signal here is the teacher-forced loss of the reference answer under the model to be fine-tuned,
per character so that long answers are not "hard" for their length alone (and so that models with
different tokenizers give comparable figures). Scores are cached per example: a re-run skips them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ft_route.data.cache import ExampleCache
from ft_route.data.progress import progress_bar
from ft_route.records import SFTExample
from kgft.backends.base import ChatMessage, LLMBackend

SCORES_FILE = "difficulty_scores.jsonl"


@dataclass(frozen=True)
class DifficultyScores:
    loss_per_char: dict[str, float]  # example id -> mean negative log-likelihood per response char
    scored: int  # by this run
    cached: int  # found in the cache from an earlier run
    seconds: float


def score_difficulty(
    examples: Sequence[SFTExample], backend: LLMBackend, cache_path: Path, progress: bool = True
) -> DifficultyScores:
    started = time.perf_counter()
    cache = ExampleCache(cache_path, backend.spec)
    losses: dict[str, float] = {}
    scored = cached = 0
    with progress_bar(progress) as bar:
        task = bar.add_task(f"difficulty: {backend.model}", total=len(examples), cached=0)
        for example in examples:
            hit = cache.get(example)
            if hit is None:
                scoring = backend.score([ChatMessage("user", example.prompt)], [example.response])
                loss = -scoring.logprobs[0] / len(example.response)
                cache.put(example, {"loss_per_char": loss})
                scored += 1
            else:
                loss = float(hit["loss_per_char"])
                cached += 1
            losses[example.id] = loss
            bar.update(task, advance=1, cached=cached)
    return DifficultyScores(losses, scored, cached, time.perf_counter() - started)
