"""Training prompts that repeat an evaluation question: the core's check (kgft.contamination) on SFT prompts.

The rule and its thresholds live in the core, so the KG route's precedent cases are checked by the same
code; this module only hands it the prompts.
"""

from __future__ import annotations

from collections.abc import Sequence

from ft_route.records import SFTExample
from kgft.contamination import (
    DEFAULT_EVAL_SETS,
    FRAGMENT_FRACTION,
    FRAGMENT_MIN_GRAMS,
    MAX_CONTAMINATED_FRACTION,
    MIN_SHARED_FRACTION,
    NGRAM_CHARS,
    PAIRS_KEPT,
    ContaminationError,
    ContaminationReport,
    EvalStem,
    OverlapPair,
    default_eval_sets,
    find_overlaps,
    load_eval_stems,
    refuse_if_contaminated,
)

__all__ = [
    "DEFAULT_EVAL_SETS",
    "FRAGMENT_FRACTION",
    "FRAGMENT_MIN_GRAMS",
    "MAX_CONTAMINATED_FRACTION",
    "MIN_SHARED_FRACTION",
    "NGRAM_CHARS",
    "PAIRS_KEPT",
    "ContaminationError",
    "ContaminationReport",
    "EvalStem",
    "OverlapPair",
    "check_contamination",
    "default_eval_sets",
    "load_eval_stems",
    "refuse_if_contaminated",
]


def check_contamination(
    examples: Sequence[SFTExample], stems: Sequence[EvalStem], eval_sets: Sequence[str]
) -> ContaminationReport:
    """Every training prompt against every stem."""
    return find_overlaps([(example.id, example.prompt) for example in examples], stems, eval_sets)
