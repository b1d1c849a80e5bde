"""Training prompts that repeat an evaluation question: the core's check (kgft.contamination) on SFT prompts.

The rule and its thresholds live in the core, so the KG route's precedent cases are checked by the same
code; this module only hands it the prompts.
"""

from __future__ import annotations

from collections.abc import Sequence

from ft_route.records import SFTExample
from kgft.contamination import ContaminationReport, EvalStem, find_overlaps


def check_contamination(
    examples: Sequence[SFTExample], stems: Sequence[EvalStem], eval_sets: Sequence[str]
) -> ContaminationReport:
    """Every training prompt against every stem."""
    return find_overlaps([(example.id, example.prompt) for example in examples], stems, eval_sets)
