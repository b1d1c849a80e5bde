"""Run routes over a dataset and log one row per (item, route): bounded, resumable, append-only.

Routes run side by side (one worker per route, at most `concurrency` at once); each route answers its
items in order, in batches through `answer_batch`, and every batch is written before the next starts,
so a killed run loses at most one batch per route and a re-run answers only what is missing.

A batch that raises is not answered again item by item (that paid twice for what the batch had
generated): its items become error rows, unpriced, and the next run answers them again one at a time.
A judge that fails leaves the answer in an error row too, which the next run grades, never re-asks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import partial
from typing import Any

from eval.items import EvalItem
from eval.metrics import LLMJudge, score_answer
from kgft.answer_labels import answer_labels
from kgft.contract import Answer, Route
from kgft.results_store import ResultRow, ResultStore

OnAnswered = Callable[[str, int], None]  # (route name, how many items just got rows)
JUDGE_FAILED = "judge_failed"  # row meta: the route answered, the judge did not grade it


@dataclass(frozen=True)
class RunOutcome:
    written: int  # rows this invocation added
    already_done: int  # rows a previous invocation had written
    errors: int  # rows recording a route's or the judge's failure


def pending_items(
    items: Sequence[EvalItem], routes: Sequence[str], done: set[tuple[str, str]]
) -> dict[str, list[EvalItem]]:
    return {route: [item for item in items if (item.id, route) not in done] for route in routes}


def run_routes(
    items: Sequence[EvalItem],
    routes: Mapping[str, Route],
    store: ResultStore,
    run_id: str,
    *,
    concurrency: int = 2,
    batch_size: int = 8,
    judge: LLMJudge | None = None,
    on_answered: OnAnswered | None = None,
    route_meta: Mapping[str, dict[str, Any]] | None = None,
    earlier_errors: Mapping[tuple[str, str], str] | None = None,
) -> RunOutcome:
    """Answers every (item, route) pair the store does not hold yet; `earlier_errors` (taken from the
    store) are answered one at a time, so one bad item fails only itself. `route_meta` goes on each
    of the route's rows (what it was built from)."""
    done = store.done_keys(run_id)
    todo = pending_items(items, list(routes), done)
    already = sum(len(items) - len(pending) for pending in todo.values())
    retry = dict(earlier_errors or {})
    extra = dict(route_meta or {})

    def one_route(name: str) -> tuple[int, int]:
        written = errors = 0
        meta = extra.get(name, {})
        retried = [item for item in todo[name] if (item.id, name) in retry]
        fresh = [item for item in todo[name] if (item.id, name) not in retry]
        batches = [[item] for item in retried] + [
            fresh[start : start + batch_size] for start in range(0, len(fresh), batch_size)
        ]
        for batch in batches:
            rows = _answer_rows(routes[name], name, batch, run_id, judge, meta)
            rows = [_with_earlier_error(row, retry.get((row.item_id, name))) for row in rows]
            written += store.record_many(rows)
            errors += sum(row.error is not None for row in rows)
            if on_answered:
                on_answered(name, len(batch))
        return written, errors

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(routes)))) as pool:
        outcomes = list(pool.map(one_route, list(routes)))
    return RunOutcome(
        written=sum(written for written, _ in outcomes),
        already_done=already,
        errors=sum(errors for _, errors in outcomes),
    )


def _answer_rows(
    route: Route,
    name: str,
    batch: Sequence[EvalItem],
    run_id: str,
    judge: LLMJudge | None,
    route_meta: dict[str, Any],
) -> list[ResultRow]:
    """A failed batch is one error row per item, never answered again here: it may have paid already."""
    answers: list[Answer | Exception]
    try:
        if len(batch) == 1:
            answers = [route.answer(batch[0].as_question())]
        else:
            answers = list(route.answer_batch([item.as_question() for item in batch]))
    except Exception as exc:  # recorded in the rows: the report counts them as wrong, unpriced answers
        answers = [exc] * len(batch)
    return [
        _row(run_id, name, item, answer, judge, route_meta)
        for item, answer in zip(batch, answers, strict=True)
    ]


def _with_earlier_error(row: ResultRow, error: str | None) -> ResultRow:
    return row if error is None else replace(row, meta=row.meta | {"earlier_error": error})


def _row(
    run_id: str,
    name: str,
    item: EvalItem,
    answer: Answer | Exception,
    judge: LLMJudge | None,
    route_meta: dict[str, Any],
) -> ResultRow:
    row = partial(
        ResultRow,
        run_id=run_id,
        item_id=item.id,
        route=name,
        question=item.question,
        gold=item.gold,
        category=item.category,
    )
    base_meta = {"domain": item.domain} | route_meta
    if isinstance(answer, Exception):
        wrong = False if item.kind == "mcq" else None
        error = f"{type(answer).__name__}: {answer}"
        # Unpriced: what the failed call spent is unknown, and $0 would flatter the route.
        return row(
            answer_text="",
            runtime_cost_usd=Decimal(0),
            priced=False,
            correct=wrong,
            error=error,
            meta=base_meta,
        )
    score = score_answer(item, answer.choice, answer.text, answer.abstained)
    answered = row(
        answer_text=answer.text,
        runtime_cost_usd=answer.cost.runtime_usd,
        priced=answer.cost.priced,
        choice=answer.choice,
        correct=score.correct,
        abstained=answer.abstained,
        prompt_tokens=answer.usage.prompt_tokens,
        completion_tokens=answer.usage.completion_tokens,
        reasoning_tokens=answer.usage.reasoning_tokens,
        latency_ms=answer.timings.total_ms,
        char_f1=score.char_f1,
        rouge_l=score.rouge_l,
        citations=[citation.model_dump() for citation in answer.citations],
        meta=base_meta | answer_labels(answer),
    )
    return judged(answered, item, judge) if judge is not None and item.kind == "open" else answered


def judged(row: ResultRow, item: EvalItem, judge: LLMJudge) -> ResultRow:
    """The judge's verdict on an open answer. An abstention is wrong, as on MCQ, so it stays in
    every accuracy; a judge that fails makes an error row that keeps the paid answer, and a resumed
    run judges it again (`judge_again`) rather than asking the route twice."""
    if row.abstained:
        return replace(row, correct=False)
    try:
        judgement = judge.judge(item, row.answer_text)
    except Exception as exc:  # the answer is paid for: keep it, and let a resume grade it
        failed = row.meta | {JUDGE_FAILED: True}
        return replace(row, correct=None, error=f"judge failed: {type(exc).__name__}: {exc}", meta=failed)
    verdict = {
        "correct": judgement.correct,
        "cost_usd": str(judgement.cost.runtime_usd),
        "priced": judgement.cost.priced,
    }
    meta = {key: value for key, value in row.meta.items() if key != JUDGE_FAILED} | {"judge": verdict}
    return replace(row, correct=judgement.correct, error=None, meta=meta)


def judge_again(
    rows: Sequence[ResultRow], items: Sequence[EvalItem], judge: LLMJudge | None, store: ResultStore
) -> set[tuple[str, str]]:
    """Records again the rows whose judging failed (the store has just taken its error rows), judged
    now where there is a judge and the item is in this run, else as they were; returns their
    (item, route) keys, which need no new answer."""
    by_id = {item.id: item for item in items}
    pending = [row for row in rows if row.meta.get(JUDGE_FAILED)]
    store.record_many(
        judged(row, by_id[row.item_id], judge) if judge is not None and row.item_id in by_id else row
        for row in pending
    )
    return {(row.item_id, row.route) for row in pending}
