"""Texts that repeat an evaluation question, found by character 8-gram overlap with its stem.

One check for every route's data: FT training prompts and the KG route's retrievable precedent cases
both pass through `find_overlaps`, so "cases in the graph" and "cases in the weights" drop the same rows.

A text is contaminated by an eval stem when
- it contains most of the stem: they share at least half of the stem's 8-grams (an eval question
  quoted or lightly edited inside a prompt), or
- it is cut from the stem: at least 80% of the text's own 8-grams, and at least 20 of them, are
  the stem's (a fragment of a long case description), or
- their normalised texts are equal (stems too short to have 8-grams).
Eight Chinese characters are about four words. The floor of 20 shared 8-grams keeps a short prompt
that merely names the same law as an eval question (law names run to 20+ characters) clean.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

from kgft.comparable_text import normalize
from kgft.errors import KgftError
from kgft.sources import DEFAULT_DATA_ROOT, SourceError
from kgft.sources.rows import read_rows

NGRAM_CHARS = 8
MIN_SHARED_FRACTION = 0.5  # of the eval stem's 8-grams
FRAGMENT_FRACTION, FRAGMENT_MIN_GRAMS = 0.8, 20  # of the checked text's 8-grams
# Above this share of contaminated candidates the source itself is suspect (an eval set, or built from
# one): stop. Below it, a handful of accidental overlaps are dropped and listed in the card.
MAX_CONTAMINATED_FRACTION = 0.01
PAIRS_KEPT = 10
DEFAULT_EVAL_SETS = {
    "legal": ("legal/eval/lexeval/1_1.json", "legal/eval/lexeval/1_2.json", "legal/eval/lexeval/3_1.json"),
    "medical": (),  # PubMedQA and BiomixQA are English; BenTsao and CMeKG questions are Chinese
}
# LexEval puts the options after the stem: "...的内容是:\nA: ...".
_OPTIONS = re.compile(r"\n\s*A\s*[:：.．、]")


class ContaminationError(KgftError):
    """Too much of a training or retrieval source repeats evaluation questions."""


class EvalSetError(KgftError):
    """An evaluation set to check against is missing or not in a readable shape."""


@dataclass(frozen=True)
class EvalStem:
    id: str  # "1_2.json:17"
    text: str


@dataclass(frozen=True)
class OverlapPair:
    train_id: str
    eval_id: str
    shared: str  # the longest text the two share, normalised


@dataclass
class ContaminationReport:
    eval_sets: list[str]
    checked: int = 0
    contaminated_ids: list[str] = field(default_factory=list)
    pairs: list[OverlapPair] = field(default_factory=list)

    @property
    def fraction(self) -> float:
        return len(self.contaminated_ids) / self.checked if self.checked else 0.0


def default_eval_sets(domain: str, data_root: Path = DEFAULT_DATA_ROOT) -> list[Path]:
    """The benchmark files of a domain; whether they exist is checked when they are loaded."""
    return [data_root / relative for relative in DEFAULT_EVAL_SETS.get(domain, ())]


def load_eval_stems(path: Path) -> list[EvalStem]:
    """LexEval rows ({instruction, input, answer}: stem = input before the options) or any rows
    with a `question` field."""
    if not path.is_file():
        raise EvalSetError(f"evaluation set not found: {path}")
    try:
        rows = list(read_rows(path))
    except SourceError as exc:
        raise EvalSetError(str(exc)) from exc
    stems = []
    for row in rows:
        if row.problem is not None:
            raise EvalSetError(f"{path}:{row.line}: {row.problem}")
        text = row.fields.get("question") or row.fields.get("input")
        if not isinstance(text, str) or not text.strip():
            raise EvalSetError(f"{path}:{row.line}: an evaluation line needs a 'question' or 'input' text")
        stems.append(EvalStem(f"{path.name}:{row.line}", _OPTIONS.split(text, maxsplit=1)[0].strip()))
    return stems


def find_overlaps(
    texts: Sequence[tuple[str, str]], stems: Sequence[EvalStem], eval_sets: Sequence[str]
) -> ContaminationReport:
    """Every (id, text) against every stem, through an index of the stems' 8-grams."""
    report = ContaminationReport(list(eval_sets), checked=len(texts))
    normalized = [normalize(stem.text) for stem in stems]
    gram_sets = [_grams(text) for text in normalized]
    by_gram: dict[str, list[int]] = {}
    for index, grams in enumerate(gram_sets):
        for gram in grams:
            by_gram.setdefault(gram, []).append(index)
    by_text = {text: index for index, text in enumerate(normalized) if text}
    for text_id, text in texts:
        checked = normalize(text)
        hit = _overlapping_stem(checked, _grams(checked), by_gram, gram_sets, by_text)
        if hit is None:
            continue
        report.contaminated_ids.append(text_id)
        if len(report.pairs) < PAIRS_KEPT:
            shared = _longest_shared(checked, normalized[hit])
            report.pairs.append(OverlapPair(text_id, stems[hit].id, shared))
    return report


def refuse_if_contaminated(report: ContaminationReport, max_fraction: float) -> None:
    if report.fraction <= max_fraction:
        return
    pairs = "; ".join(f"{pair.train_id} ↔ {pair.eval_id} «{pair.shared}»" for pair in report.pairs[:3])
    raise ContaminationError(
        f"{len(report.contaminated_ids)} of {report.checked} training prompts "
        f"({report.fraction:.1%}, limit {max_fraction:.1%}) repeat questions from "
        f"{', '.join(report.eval_sets)}: {pairs}"
    )


def _grams(text: str) -> frozenset[str]:
    return frozenset(text[i : i + NGRAM_CHARS] for i in range(len(text) - NGRAM_CHARS + 1))


def _overlapping_stem(
    text: str,
    grams: frozenset[str],
    by_gram: dict[str, list[int]],
    gram_sets: list[frozenset[str]],
    by_text: dict[str, int],
) -> int | None:
    if text in by_text:
        return by_text[text]
    shared = Counter(index for gram in grams for index in by_gram.get(gram, ()))
    for index, count in shared.most_common():
        contains_stem = count >= MIN_SHARED_FRACTION * len(gram_sets[index])
        cut_from_stem = count >= max(FRAGMENT_FRACTION * len(grams), FRAGMENT_MIN_GRAMS)
        if contains_stem or cut_from_stem:
            return index
    return None


def _longest_shared(a: str, b: str) -> str:
    match = SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b))
    return a[match.a : match.a + match.size]
