"""The KG route: graph facts in a base model's prompt, answers with numbered citations."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import date
from functools import cached_property

from kg_route.charge_answer import charge_answer
from kg_route.facts import Fact
from kg_route.linking.question_date import question_date
from kg_route.prompt import build_messages
from kg_route.readers import ChargeOptionsReader, LexicalReader, LLMReader, Reader
from kg_route.recitation import recited_article
from kg_route.retrieval import FactRetriever, Retrieval
from kgft.answers import answer_alone, answer_from_generation, stream_whole
from kgft.backends import LLMBackend, create_backend
from kgft.backends.base import generate_args
from kgft.backends.context_fit import cut_note
from kgft.builds import Build
from kgft.contract import Answer, Citation, Cost, OnText, Question, Timings, Usage
from kgft.errors import KgftError
from kgft.option_scoring import choice_text
from kgft.pricing import PriceBook, combine
from kgft.projects import graph_config
from kgft.settings import Settings

READERS = ("lexical", "llm")
# Linking and graph lookups run on one CPU core whatever device the model runs on; priced as such.
RETRIEVAL_DEVICE = "cpu"


class KGRoute:
    """Retrieval runs on the CPU with no model call; the backend is loaded only when one is needed.

    The same route serves `kg` (the base model reads the facts), `kg-lexical` (no model: the floor) and
    `hybrid` (a fine-tuned model reads them): only the name, the backend and the reader differ.
    """

    def __init__(
        self,
        retriever: FactRetriever,
        settings: Settings,
        prices: PriceBook,
        *,
        name: str = "kg",
        backend_spec: str | None = None,
        reader: str | None = None,
        model_builds: Sequence[Build] = (),
    ):
        self.reader_name = settings.kg_reader if reader is None else reader
        if self.reader_name not in READERS:
            raise KgftError(f"unknown reader '{self.reader_name}'; use one of {', '.join(READERS)}")
        self.name = name
        self.backend_spec = backend_spec or settings.kg_backend
        self.retriever = retriever
        self.settings = settings
        self.prices = prices
        self.model_builds = tuple(model_builds)  # a trained model reading the facts (hybrid)

    @cached_property
    def backend(self) -> LLMBackend:
        return create_backend(self.backend_spec, self.settings)

    @cached_property
    def reader(self) -> Reader:
        """Charge options are read from the charge ranking whichever reader is set: a model could only
        copy the ranking out of its prompt, and a long case fact overflows SmolLM2's context."""
        inner: Reader = (
            LLMReader(self.backend, self.settings.mcq_mode) if self.reader_name == "llm" else LexicalReader()
        )
        return ChargeOptionsReader(inner)

    def answer(self, question: Question) -> Answer:
        return self._answer(question, None)

    def answer_streaming(self, question: Question, on_text: OnText) -> Answer:
        return self._answer(question, on_text)

    def _answer(self, question: Question, on_text: OnText | None) -> Answer:
        started = time.perf_counter()
        retrieval = self.retriever.retrieve(question.text, as_of=_as_of(question))
        retrieval_cost = self.prices.compute_cost(RETRIEVAL_DEVICE, retrieval.retrieval_ms / 1000, cores=1)
        diagnostics = _diagnostics(retrieval) | self._configuration()
        if not retrieval.links or not retrieval.facts:
            reason = retrieval.abstain_reason or (
                "no entity linked" if not retrieval.links else "no facts for the linked entities"
            )
            if retrieval.abstain_reason is None and self._answers_without_facts:
                return self._answer_alone(
                    question, on_text, reason, retrieval, retrieval_cost, diagnostics, started
                )
            return self._abstain(reason, retrieval, retrieval_cost, diagnostics, started)
        if question.options:
            return stream_whole(
                self._read_choice(question, retrieval, retrieval_cost, diagnostics, started), on_text
            )
        from_graph = self._answer_from_graph(retrieval, diagnostics, started)
        if from_graph is not None:
            return stream_whole(from_graph, on_text)
        messages = build_messages(question.text, retrieval.facts, question.history)
        generation = self.backend.generate(
            messages, **generate_args(question.params, self.settings.max_tokens), on_text=on_text
        )
        answer = answer_from_generation(
            generation,
            route=self.name,
            backend=self.backend,
            prices=self.prices,
            total_ms=(time.perf_counter() - started) * 1000,
            retrieval_ms=retrieval.retrieval_ms,
            citations=_citations(retrieval.facts),
            diagnostics=diagnostics,
        )
        return answer.model_copy(update={"cost": combine(retrieval_cost, answer.cost)})

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(question) for question in questions]

    def builds(self) -> list[Build]:
        """What eval and serve book (kgft.builds): the graph, whose ingest ledgered itself, and any
        trained model reading it."""
        url = self.retriever.store.url
        return [Build(f"graph {url}", graph_config(url)), *self.model_builds]

    def _read_choice(
        self,
        question: Question,
        retrieval: Retrieval,
        retrieval_cost: Cost,
        diagnostics: dict,
        started: float,
    ) -> Answer:
        options = question.options or {}
        reading = self.reader.read(question.text, options, retrieval.facts, question.history)
        usage, cost, model, reading_ms = Usage(), retrieval_cost, "none", 0.0
        # What the model read (score mode) or wrote (generate mode); an abstention is priced the same.
        generation = reading.generation or (
            reading.scoring.as_generation(self.backend.model) if reading.scoring else None
        )
        if generation is not None:
            usage = Usage(
                prompt_tokens=generation.prompt_tokens,
                completion_tokens=generation.completion_tokens,
                reasoning_tokens=generation.reasoning_tokens,
            )
            cost = combine(retrieval_cost, self.backend.cost(generation, self.prices))
            model, reading_ms = self.backend.model, generation.generation_ms
        abstained = reading.choice is None
        return Answer(
            text="" if reading.choice is None else choice_text(reading.choice, options),
            choice=reading.choice,
            route=self.name,
            model=model,
            citations=_citations(retrieval.facts),
            usage=usage,
            timings=_timings(retrieval, reading_ms, started),
            cost=cost,
            abstained=abstained,
            abstain_reason=(reading.abstain_reason or "the reader chose no option") if abstained else None,
            diagnostics=diagnostics
            | {"option_scores": reading.scores}
            | reading.diagnostics
            | (cut_note(generation) if generation is not None else {}),
        )

    def _answer_from_graph(self, retrieval: Retrieval, diagnostics: dict, started: float) -> Answer | None:
        """Answers the graph holds whole, with no model call and the retrieval's cost only: a named
        article's text (recitation), or the charges a described case is ranked to (kg_route.charge_answer)."""
        if not self.settings.kg_recitation:
            return None
        read_started = time.perf_counter()
        recited = recited_article(retrieval.linked_text, retrieval.links)
        fact = self.retriever.article(recited) if recited else None
        if fact is not None and fact.text.strip():
            text, cited, marker = fact.text, [fact], {"recitation": True}
        else:
            charged = charge_answer(retrieval.linked_text, retrieval.charges)
            if charged is None:
                return None  # nothing the graph holds whole: let the model answer
            cited = [fact for fact in retrieval.facts if fact.id in charged.fact_ids]
            text, marker = charged.text, {"charge_answer": True}
        retrieval_ms = retrieval.retrieval_ms + (time.perf_counter() - read_started) * 1000
        return Answer(
            text=text,
            route=self.name,
            model="none",
            citations=_citations(cited),
            timings=Timings(
                retrieval_ms=retrieval_ms, generation_ms=0.0, total_ms=(time.perf_counter() - started) * 1000
            ),
            cost=self.prices.compute_cost(RETRIEVAL_DEVICE, retrieval_ms / 1000, cores=1),
            diagnostics=diagnostics | marker,
        )

    def _answer_alone(
        self,
        question: Question,
        on_text: OnText | None,
        reason: str,
        retrieval: Retrieval,
        retrieval_cost: Cost,
        diagnostics: dict,
        started: float,
    ) -> Answer:
        """The model on the question alone, as `llm` would answer, priced and timed with the retrieval."""
        alone = answer_alone(
            self.backend,
            question,
            self.prices,
            route=self.name,
            max_tokens=self.settings.max_tokens,
            mcq_mode=self.settings.mcq_mode,
            on_text=on_text,
        )
        timings = alone.timings.model_copy(
            update={
                "retrieval_ms": retrieval.retrieval_ms,
                "total_ms": (time.perf_counter() - started) * 1000,
            }
        )
        return alone.model_copy(
            update={
                "cost": combine(retrieval_cost, alone.cost),
                "timings": timings,
                "diagnostics": diagnostics | alone.diagnostics | {"without_facts": reason},
            }
        )

    @property
    def _answers_without_facts(self) -> bool:
        """Where the graph holds nothing on the question, the model answers alone (as `llm` would),
        unless settings ask for an abstention; a route with no model can only abstain."""
        return self.reader_name == "llm" and self.settings.kg_without_facts == "model"

    def _configuration(self) -> dict[str, str]:
        """What answered, on every answer (abstentions too), so reports can name the model and reader."""
        return {"reader": self.reader_name, "backend": self.backend_spec}

    def _abstain(
        self, reason: str, retrieval: Retrieval, cost: Cost, diagnostics: dict, started: float
    ) -> Answer:
        return Answer(
            text="",
            route=self.name,
            model="none",
            timings=_timings(retrieval, 0.0, started),
            cost=cost,
            abstained=True,
            abstain_reason=reason,
            diagnostics=diagnostics,
        )


def _as_of(question: Question) -> date | None:
    """The day the asker names in `metadata.as_of` (the contract checks it), else in the text."""
    named = question.metadata.get("as_of")
    return date.fromisoformat(named) if named is not None else question_date(question.text)


def _citations(facts: Sequence[Fact]) -> list[Citation]:
    return [
        Citation(
            id=fact.id, text=fact.text, source=fact.source, version_date=fact.version_date, status=fact.status
        )
        for fact in facts
    ]


def _timings(retrieval: Retrieval, generation_ms: float, started: float) -> Timings:
    return Timings(
        retrieval_ms=retrieval.retrieval_ms,
        generation_ms=generation_ms,
        total_ms=(time.perf_counter() - started) * 1000,
    )


def _diagnostics(retrieval: Retrieval) -> dict:
    return {
        "linked": [
            {"id": link.node_id, "name": link.name, "kind": link.kind, "how": link.how}
            for link in retrieval.links
        ],
        "facts": len(retrieval.facts),
        "retrieval_ms": round(retrieval.retrieval_ms, 3),
        "stripped": list(retrieval.stripped),
    } | ({"linked_text": retrieval.linked_text} if retrieval.stripped else {})
