"""The s1 recipe end to end: sources → contamination check → quality → held-out split → difficulty →
diversity → (distillation) → train.jsonl, eval.jsonl and a dataset card, with the build ledgered."""

from __future__ import annotations

import math
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ft_route.data.card import (
    ContaminationSummary,
    DatasetCard,
    DifficultySummary,
    DistillationSummary,
    OverlapSummary,
    SourceSummary,
)
from ft_route.data.cases import is_case_source, load_cases, named_source
from ft_route.data.contamination import check_contamination
from ft_route.data.dedupe import NEAR_DUPLICATE_JACCARD, deduplicate
from ft_route.data.difficulty import SCORES_FILE, score_difficulty
from ft_route.data.distill import CACHE_FILE, MAX_TRACE_TOKENS, Distilled, distill
from ft_route.data.kg_questions import kg_questions
from ft_route.data.selection import LengthLimits, balanced, format_problem, hardest
from ft_route.data.sources import DEFAULT_SOURCES, LoadedSource, default_sources, load_source
from ft_route.records import (
    DATASET_CARD,
    EVAL_FILE,
    TRAIN_FILE,
    DatasetError,
    SFTExample,
    data_hash,
    write_examples,
)
from kgft.backends.base import LLMBackend
from kgft.contamination import (
    MAX_CONTAMINATED_FRACTION,
    MIN_SHARED_FRACTION,
    NGRAM_CHARS,
    ContaminationReport,
    default_eval_sets,
    load_eval_stems,
    refuse_if_contaminated,
)
from kgft.graph_store import GraphStore
from kgft.ledger import Ledger, LedgerEntry
from kgft.pricing import PriceBook
from kgft.projects import model_config
from kgft.settings import Settings

DEFAULT_N = 1_000  # s1's dataset size
EVAL_FRACTION, MIN_EVAL = 0.10, 50
KEEP_HARDEST = 0.5
DEFAULT_LIMITS = LengthLimits()
SCORED_POOL_FACTOR = 4  # score at most 4n examples: after keeping the hardest half, 2n to choose from


@dataclass(frozen=True)
class _Pools:
    train: list[SFTExample]
    eval: list[SFTExample]


def build_dataset(
    domain: str,
    out_dir: Path,
    *,
    settings: Settings,
    prices: PriceBook,
    n: int = DEFAULT_N,
    sources: Sequence[Path] | None = None,
    kg_store: GraphStore | None = None,
    difficulty_backend: LLMBackend | None = None,
    teacher: LLMBackend | None = None,
    eval_sets: Sequence[Path] | None = None,
    seed: int = 0,
    allow_exam_derived: bool = False,
    max_contaminated: float = MAX_CONTAMINATED_FRACTION,
    keep_hardest: float = KEEP_HARDEST,
    limits: LengthLimits = DEFAULT_LIMITS,
    teacher_max_tokens: int = MAX_TRACE_TOKENS,
    progress: bool = True,
) -> DatasetCard:
    """Write a dataset folder for `domain`; `sources=None` means the domain's default files, and
    `eval_sets=None` its benchmarks. Raises DatasetError (one line) on bad input or contamination."""
    started = time.perf_counter()
    traced: Distilled | None = None
    card: DatasetCard | None = None
    try:
        if domain not in DEFAULT_SOURCES:
            raise DatasetError(f"unknown domain '{domain}': use one of {sorted(DEFAULT_SOURCES)}")
        if n < 1:
            raise DatasetError(f"n must be at least 1, got {n}")
        source_paths = (
            default_sources(domain) if sources is None else [named_source(path) for path in sources]
        )
        eval_paths = default_eval_sets(domain) if eval_sets is None else list(eval_sets)
        _refuse_eval_files_as_sources(source_paths, eval_paths)
        stems = [stem for path in eval_paths for stem in load_eval_stems(path)]
        eval_names = [str(path) for path in eval_paths]
        loaded, cases_dropped = [], 0
        for path in source_paths:
            if is_case_source(path):  # cleaned as the KG route's precedents are, whatever the share
                cases, dropped_ids = load_cases(path, domain, stems, eval_names)
                loaded.append(cases)
                cases_dropped += len(dropped_ids)
            else:
                loaded.append(load_source(path, domain, allow_exam_derived=allow_exam_derived))
        candidates = [example for source in loaded for example in source.examples]
        generated = None if kg_store is None else kg_questions(kg_store, domain, seed)
        candidates += generated or []
        stages = {"loaded": len(candidates)}
        dropped: Counter[str] = Counter(skipped_rows=sum(source.skipped for source in loaded))

        report = check_contamination(candidates, stems, eval_names)
        refuse_if_contaminated(report, max_contaminated)
        contaminated = set(report.contaminated_ids)
        candidates = [example for example in candidates if example.id not in contaminated]
        dropped["contaminated"] = len(contaminated)
        dropped["contaminated_cases"] = cases_dropped
        stages["not_contaminated"] = len(candidates)

        well_formed = []
        for example in candidates:
            problem = format_problem(example, limits)
            if problem is None:
                well_formed.append(example)
            else:
                dropped[problem] += 1
        stages["well_formed"] = len(well_formed)
        unique = deduplicate(well_formed)
        dropped["exact_duplicate"], dropped["near_duplicate"] = unique.exact, unique.near
        stages["unique"] = len(unique.kept)
        if not unique.kept:
            raise DatasetError(
                f"nothing left to train on after filtering {stages['loaded']} examples from "
                f"{len(source_paths)} source(s){' and the graph' if kg_store else ''}: {_reasons(dropped)}"
            )

        pools = _hold_out(unique.kept, n, seed)
        stages["held_out_eval"] = len(pools.eval)
        pool, difficulty, loss = pools.train, None, None
        if difficulty_backend is not None:
            scored_pool = balanced(pool, SCORED_POOL_FACTOR * n, seed)
            scores = score_difficulty(scored_pool, difficulty_backend, out_dir / SCORES_FILE, progress)
            loss = scores.loss_per_char
            pool = hardest(scored_pool, loss, keep_hardest)
            difficulty = DifficultySummary(
                backend=difficulty_backend.spec,
                scored_pool=len(scored_pool),
                scored_now=scores.scored,
                cached=scores.cached,
                keep_fraction=keep_hardest,
                loss_per_char_cutoff=loss[pool[-1].id] if pool else None,
                seconds=round(scores.seconds, 3),
            )
            stages["difficulty_scored"], stages["difficulty_kept"] = len(scored_pool), len(pool)
        train = balanced(pool, n, seed, loss)
        stages["selected"] = len(train)
        held_out = pools.eval

        distillation = None
        if teacher is not None:
            traced = distill(
                train + held_out,
                teacher,
                out_dir / CACHE_FILE,
                settings,
                prices,
                max_tokens=teacher_max_tokens,
                progress=progress,
            )
            train, held_out = traced.examples[: len(train)], traced.examples[len(train) :]
            distillation = _distillation_summary(traced, teacher)

        write_examples(out_dir / TRAIN_FILE, train)
        write_examples(out_dir / EVAL_FILE, held_out)
        card = DatasetCard(
            domain=domain,
            n_requested=n,
            seed=seed,
            sources=[_source_summary(source) for source in loaded],
            kg_questions=None if generated is None else len(generated),
            stages=stages,
            dropped={reason: count for reason, count in dropped.items() if count},
            thresholds=_thresholds(limits, max_contaminated, keep_hardest if difficulty else None),
            contamination=_contamination_summary(report, max_contaminated),
            difficulty=difficulty,
            distillation=distillation,
            categories=dict(Counter(example.category for example in train).most_common()),
            train_examples=len(train),
            eval_examples=len(held_out),
            data_hash=data_hash(out_dir / TRAIN_FILE),
            seconds=round(time.perf_counter() - started, 3),
        )
        (out_dir / DATASET_CARD).write_text(card.model_dump_json(indent=2), "utf-8")
        return card
    finally:
        curation_seconds = time.perf_counter() - started - (0.0 if traced is None else traced.seconds)
        curation = _curation_entry(domain, out_dir, curation_seconds, card is not None, settings, prices)
        # A finished build's costs belong to the model trained on its data; a failed one's to the route.
        config = None if card is None else model_config(card.data_hash)
        ledger = Ledger(settings.ledger_path)
        for entry in (curation, None if traced is None else traced.entry):
            if entry is not None:
                ledger.append(replace(entry, domain=domain, config=config))


def _refuse_eval_files_as_sources(sources: Sequence[Path], eval_sets: Sequence[Path]) -> None:
    evals = {path.resolve() for path in eval_sets}
    for path in sources:
        if path.resolve() in evals:
            raise DatasetError(f"{path} is an evaluation set; it cannot also be training data")


def _hold_out(examples: list[SFTExample], n: int, seed: int) -> _Pools:
    """A seeded random eval split of 10% of n (at least 50), never more than a fifth of the pool.
    Taken after deduplication, so no eval prompt has a near-duplicate in train."""
    size = min(max(MIN_EVAL, math.ceil(EVAL_FRACTION * n)), len(examples) // 5)
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    held = set(order[:size])
    return _Pools(
        train=[example for index, example in enumerate(examples) if index not in held],
        eval=[examples[index] for index in sorted(held)],
    )


def _reasons(dropped: Counter[str]) -> str:
    return ", ".join(f"{count} {reason}" for reason, count in dropped.most_common() if count) or "no rows"


def _thresholds(
    limits: LengthLimits, max_contaminated: float, keep_hardest: float | None
) -> dict[str, float]:
    values: dict[str, float] = {
        "min_prompt_chars": limits.min_prompt,
        "max_prompt_chars": limits.max_prompt,
        "min_response_chars": limits.min_response,
        "max_response_chars": limits.max_response,
        "near_duplicate_jaccard": NEAR_DUPLICATE_JACCARD,
        "contamination_ngram_chars": NGRAM_CHARS,
        "contamination_min_shared_fraction": MIN_SHARED_FRACTION,
        "max_contaminated_fraction": max_contaminated,
        "eval_fraction": EVAL_FRACTION,
        "min_eval_examples": MIN_EVAL,
    }
    if keep_hardest is not None:
        values["keep_hardest_fraction"] = keep_hardest
    return values


def _source_summary(source: LoadedSource) -> SourceSummary:
    return SourceSummary(
        path=str(source.path),
        rows_read=source.rows_read,
        examples=len(source.examples),
        skipped=source.skipped,
        skipped_where=source.skipped_where,
    )


def _contamination_summary(report: ContaminationReport, max_fraction: float) -> ContaminationSummary:
    return ContaminationSummary(
        eval_sets=report.eval_sets,
        checked=report.checked,
        contaminated=len(report.contaminated_ids),
        fraction=round(report.fraction, 6),
        max_fraction=max_fraction,
        ngram_chars=NGRAM_CHARS,
        min_shared_fraction=MIN_SHARED_FRACTION,
        pairs=[OverlapSummary(train_id=p.train_id, eval_id=p.eval_id, shared=p.shared) for p in report.pairs],
    )


def _distillation_summary(traced: Distilled, teacher: LLMBackend) -> DistillationSummary:
    return DistillationSummary(
        teacher=teacher.spec,
        generated=traced.generated,
        cached=traced.cached,
        empty=traced.empty,
        tokens=traced.tokens,
        cost_usd=None if traced.cost is None else str(traced.cost.runtime_usd),
        cost_basis=None if traced.cost is None else traced.cost.basis,
        seconds=round(traced.seconds, 3),
    )


def _curation_entry(
    domain: str, out_dir: Path, seconds: float, completed: bool, settings: Settings, prices: PriceBook
) -> LedgerEntry:
    """The curation's own machine time (loading, filtering, difficulty scoring on a local model);
    distillation has its own entry, priced by the teacher."""
    cost = prices.compute_cost(settings.device, seconds, cores=settings.threads)
    return LedgerEntry.from_cost(
        "ft",
        "dataset_curation",
        f"build the {domain} dataset in {out_dir}",
        cost,
        seconds=seconds,
        meta={"domain": domain, "out_dir": str(out_dir), "completed": completed},
    )
