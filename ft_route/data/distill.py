"""s1-style reasoning traces from a stronger teacher model, stored beside the reference answer.

The teacher sees the question and the reference answer and writes the reasoning that leads to it
(rationalisation, as in STaR): the trace then agrees with the answer the model learns, and a
statute or CMeKG answer stays the source's, not the teacher's. Every call is cached per example,
and what the calls cost goes into the build ledger.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from ft_route.data.cache import ExampleCache
from ft_route.data.progress import progress_bar
from ft_route.records import SFTExample
from kgft.backends.base import ChatMessage, Generation, LLMBackend
from kgft.contract import Cost
from kgft.ledger import Ledger, LedgerEntry
from kgft.pricing import PriceBook
from kgft.settings import Settings

CACHE_FILE = "distill_cache.jsonl"
MAX_TRACE_TOKENS = 1024
_SYSTEM = {"legal": "你是一位严谨的中国法律专家。", "medical": "你是一位严谨的临床医学专家。"}
_REQUEST = (
    "问题：{prompt}\n\n参考答案：{response}\n\n"
    "请先在<think>和</think>之间写出得到这个答案的完整推理过程（依据哪些事实、法条或医学知识，"
    "如何一步步推出结论），再在</think>之后给出最终答案。"
)
_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)


@dataclass(frozen=True)
class Distilled:
    examples: list[SFTExample]  # the same examples, with `reasoning` filled where the teacher gave one
    generated: int
    cached: int
    empty: int  # the teacher wrote nothing usable: kept without reasoning
    seconds: float
    # This run's calls, priced; None when everything came from the cache. The caller books it: it
    # knows the data hash the traces go into, which is the project the cost belongs to.
    entry: LedgerEntry | None

    @property
    def cost(self) -> Cost | None:
        if self.entry is None:
            return None
        return Cost(runtime_usd=self.entry.cost_usd, basis=self.entry.basis, priced=self.entry.priced)

    @property
    def tokens(self) -> int:
        return 0 if self.entry is None else self.entry.tokens


def distill(
    examples: Sequence[SFTExample],
    teacher: LLMBackend,
    cache_path: Path,
    settings: Settings,
    prices: PriceBook,
    *,
    max_tokens: int = MAX_TRACE_TOKENS,
    progress: bool = True,
) -> Distilled:
    started = time.perf_counter()
    cache = ExampleCache(cache_path, teacher.spec)
    calls: list[Generation] = []
    out: list[SFTExample] = []
    cached = 0
    try:
        with progress_bar(progress) as bar:
            task = bar.add_task(f"distill: {teacher.model}", total=len(examples), cached=0)
            for example in examples:
                hit = cache.get(example)
                if hit is None:
                    generation = teacher.generate(_messages(example), max_tokens=max_tokens)
                    calls.append(generation)
                    trace = reasoning_from(generation.text)
                    cache.put(example, {"reasoning": trace, "finish_reason": generation.finish_reason})
                else:
                    trace = str(hit["reasoning"])
                    cached += 1
                out.append(replace(example, reasoning=trace))
                bar.update(task, advance=1, cached=cached)
    except BaseException:
        # Calls already made are paid for, though no dataset came of them.
        failed = _entry(calls, teacher, prices, examples)
        if failed is not None:
            Ledger(settings.ledger_path).append(failed)
        raise
    entry = _entry(calls, teacher, prices, examples)
    return Distilled(
        out,
        generated=len(calls),
        cached=cached,
        empty=sum(1 for example in out if not example.reasoning),
        seconds=time.perf_counter() - started,
        entry=entry,
    )


def reasoning_from(text: str) -> str:
    """The <think> part; a teacher that ignored the format gave its whole reply as the reasoning."""
    match = _THINK.search(text)
    return (match.group(1) if match else text).strip()


def _messages(example: SFTExample) -> list[ChatMessage]:
    request = _REQUEST.format(prompt=example.prompt, response=example.response)
    return [ChatMessage("system", _SYSTEM.get(example.domain, "")), ChatMessage("user", request)]


def _entry(
    calls: Sequence[Generation], teacher: LLMBackend, prices: PriceBook, examples: Sequence[SFTExample]
) -> LedgerEntry | None:
    """One entry for the run: summed tokens and time priced once, which equals the sum of per-call
    prices under linear pricing and keeps the arithmetic short enough to read."""
    if not calls:
        return None
    combined = Generation(
        text="",
        model=teacher.model,
        prompt_tokens=sum(call.prompt_tokens for call in calls),
        completion_tokens=sum(call.completion_tokens for call in calls),
        generation_ms=sum(call.generation_ms for call in calls),
        cached_tokens=sum(call.cached_tokens for call in calls),
        reasoning_tokens=sum(call.reasoning_tokens for call in calls),
    )
    cost = teacher.cost(combined, prices)
    tokens = combined.prompt_tokens + combined.completion_tokens
    return LedgerEntry.from_cost(
        "ft",
        "distillation",
        f"reasoning traces from {teacher.spec} for {len(calls)} examples",
        cost,
        seconds=combined.generation_ms / 1000,
        tokens=tokens,
        meta={
            "teacher": teacher.spec,
            "calls": len(calls),
            "examples": len(examples),
            "prompt_tokens": combined.prompt_tokens,
            "completion_tokens": combined.completion_tokens,
        },
        domain=examples[0].domain if examples else None,
    )
