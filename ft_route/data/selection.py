"""s1's three filters as plain functions: quality (format and length), difficulty cut, diversity.

s1 (Muennighoff et al., 2025) kept 1,000 of 59K questions: drop malformed and duplicate ones, keep
those its base models found hard, then sample uniformly over domains. Here "domain" is the
example's category (a cited article, a law, a CMeKG relation).
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ft_route.records import SFTExample

REPLACEMENT_CHAR = "\ufffd"  # a decoding error upstream: the text is damaged
# "B" or "ACD": a multiple-choice key without its question's options teaches nothing (LexEval rows).
_OPTION_LETTERS = re.compile(r"[A-F][A-F,，、 ]*")


@dataclass(frozen=True)
class LengthLimits:
    """In characters. The upper limits keep every example well inside a 4k-token training block
    (Chinese runs ~1-1.5 tokens a character); the longest Lawyer-LLaMA answer is 2,461 characters."""

    min_prompt: int = 4
    max_prompt: int = 1_000
    min_response: int = 2  # BenTsao has one-character answers ("足"): nothing to learn from
    max_response: int = 3_000


def format_problem(example: SFTExample, limits: LengthLimits) -> str | None:
    """Why an example is unfit to train on, or None when it is fine."""
    prompt, response = example.prompt.strip(), example.response.strip()
    if not prompt or not response:
        return "empty"
    if _OPTION_LETTERS.fullmatch(response):
        return "bare option letters"
    if REPLACEMENT_CHAR in prompt or REPLACEMENT_CHAR in response:
        return "damaged text"
    if len(prompt) < limits.min_prompt or len(response) < limits.min_response:
        return "too short"
    if len(prompt) > limits.max_prompt or len(response) > limits.max_response:
        return "too long"
    if prompt == response:
        return "response repeats the prompt"
    return None


def hardest(
    examples: Sequence[SFTExample], loss: Mapping[str, float], keep_fraction: float
) -> list[SFTExample]:
    """The `keep_fraction` with the highest loss per character under the base model, hardest first."""
    ranked = sorted(examples, key=lambda example: (-loss[example.id], example.id))
    return ranked[: math.ceil(len(ranked) * keep_fraction)]


def balanced(
    examples: Sequence[SFTExample], n: int, seed: int, loss: Mapping[str, float] | None = None
) -> list[SFTExample]:
    """Round-robin over categories until `n`: hardest first within a category when losses are known,
    in a seeded random order otherwise. Small categories run out and the rest keep taking turns."""
    rng = random.Random(seed)
    queues: dict[str, list[SFTExample]] = defaultdict(list)
    for example in examples:
        queues[example.category].append(example)
    for queue in queues.values():
        if loss is None:
            rng.shuffle(queue)
        else:
            queue.sort(key=lambda example: (-loss[example.id], example.id))
    categories = sorted(queues)
    rng.shuffle(categories)  # which categories get the last, partial round is left to the seed
    chosen: list[SFTExample] = []
    for position in range(max((len(queue) for queue in queues.values()), default=0)):
        for category in categories:
            if len(chosen) == n:
                return chosen
            if position < len(queues[category]):
                chosen.append(queues[category][position])
    return chosen
