"""Instant routes for gateway tests: fixed answers and costs, failures and stalls on demand."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from gateway.app import create_app
from kgft.contract import Answer, Citation, Cost, OnText, Question, Usage
from kgft.pricing import PriceBook
from kgft.results_store import ResultStore
from kgft.settings import Settings

PROMPT_TOKENS = 12
COMPLETION_TOKENS = 5


class FakeRoute:
    """Counts its calls and the most callers it had at once, so tests can check the gateway's gates."""

    def __init__(
        self, name: str, cost_usd: str = "0.000125", *, error: Exception | None = None, delay_s: float = 0
    ):
        self.name = name
        self.cost_usd = Decimal(cost_usd)
        self.error = error
        self.delay_s = delay_s
        self.questions: list[Question] = []
        self.most_at_once = 0
        self._active = 0
        self._lock = threading.Lock()

    def answer(self, question: Question) -> Answer:
        self._arrive(question)
        try:
            if self.delay_s:
                time.sleep(self.delay_s)
            return self._reply(question)
        finally:
            self._leave()

    def _arrive(self, question: Question) -> None:
        with self._lock:
            self.questions.append(question)
            self._active += 1
            self.most_at_once = max(self.most_at_once, self._active)

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1

    def _reply(self, question: Question) -> Answer:
        if self.error is not None:
            raise self.error
        return Answer(
            text=f"{self.name} says: {question.text}",
            choice=next(iter(question.options)) if question.options else None,
            route=self.name,
            model=f"{self.name}-model",
            citations=[
                Citation(
                    id="article:232",
                    text="故意杀人的，处死刑……",
                    source="中华人民共和国刑法 第二百三十二条",
                )
            ],
            usage=Usage(prompt_tokens=PROMPT_TOKENS, completion_tokens=COMPLETION_TOKENS),
            cost=Cost(runtime_usd=self.cost_usd, basis=f"fixed ${self.cost_usd}", priced=True),
        )

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(question) for question in questions]


class AsyncFakeRoute(FakeRoute):
    """Answers open questions on the event loop, as the llm route over an HTTP model does; questions
    with options go to `answer` in a thread. `threads` names the thread each async answer ran on."""

    def __init__(self, name: str, cost_usd: str = "0.000125", **kwargs: Any):
        super().__init__(name, cost_usd, **kwargs)
        self.threads: list[str] = []

    def answers_async(self, question: Question) -> bool:
        return not question.options

    async def answer_async(self, question: Question) -> Answer:
        self.threads.append(threading.current_thread().name)
        self._arrive(question)
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return self._reply(question)
        finally:
            self._leave()


class StreamingFakeRoute(FakeRoute):
    """Writes its answer a word at a time. With `hold`, it waits after the first word until the test sets
    it, so the test can show the client had that word while the route was still writing; with
    `fail_after`, it raises once that many words are out."""

    def __init__(
        self, name: str, *, hold: threading.Event | None = None, fail_after: int | None = None, **kwargs: Any
    ):
        super().__init__(name, **kwargs)
        self.hold = hold
        self.fail_after = fail_after
        self.finished = threading.Event()

    def answer_streaming(self, question: Question, on_text: OnText) -> Answer:
        answer = self.answer(question)
        words = answer.text.split(" ")
        for count, piece in enumerate([f"{word} " for word in words[:-1]] + words[-1:]):
            if count == self.fail_after:
                raise RuntimeError("the model server went away")
            on_text(piece)
            if count == 0 and self.hold is not None:
                self.hold.wait(timeout=10)
            time.sleep(0.005)
        self.finished.set()
        return answer


def make_app(home: Path, routes: dict[str, FakeRoute], **settings: Any) -> tuple[FastAPI, ResultStore]:
    """A gateway over `routes` with auth off unless `gateway_auth=True`; its store is SQLite under `home`."""
    values: dict[str, Any] = {"gateway_auth": False, "gateway_default": next(iter(routes))} | settings
    store = ResultStore(f"sqlite:///{home / 'results.db'}")
    return create_app(Settings(home=home, **values), PriceBook.load(), routes=routes, store=store), store


def chat_body(
    text: str = "刑法第二百三十二条规定了什么？", model: str = "kg", **extra: Any
) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], **extra}
