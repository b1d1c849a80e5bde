"""The eval runner: every (item, route) answered once, failures recorded, resumable without duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from eval.items import EvalItem
from eval.metrics import Judgement
from eval.runner import run_routes
from kgft.contract import Answer, Cost, Question, Timings
from kgft.results_store import ResultStore


class LetterRoute:
    """Answers every MCQ with one fixed letter; a unit-test stand-in for a real route."""

    def __init__(self, name: str, letter: str, fail_on: str | None = None):
        self.name = name
        self.letter = letter
        self.fail_on = fail_on
        self.asked: list[str] = []

    def answer(self, question: Question) -> Answer:
        self.asked.append(question.id)
        if question.id == self.fail_on:
            raise RuntimeError("graph went away")
        return Answer(
            text=f"{self.letter}. …",
            choice=self.letter,
            route=self.name,
            model="fixed",
            timings=Timings(total_ms=2.5),
            cost=Cost(runtime_usd=Decimal("0.0001"), basis="flat", priced=True),
        )

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(question) for question in questions]


def _items(count: int) -> list[EvalItem]:
    options = {"A": "甲", "B": "乙", "C": "丙", "D": "丁"}
    return [
        EvalItem(
            id=str(index),
            question=f"第{index}题",
            gold="A" if index % 2 else "B",
            domain="legal",
            options=options,
            category="刑法" if index < 6 else "民法典",
        )
        for index in range(10)
    ][:count]


def test_every_pair_is_answered_and_scored(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    outcome = run_routes(
        _items(10), {"a": LetterRoute("a", "A"), "b": LetterRoute("b", "B")}, store, "r1", batch_size=3
    )

    rows = store.rows("r1")
    assert (outcome.written, outcome.already_done, outcome.errors) == (20, 0, 0)
    assert sum(row.correct for row in rows if row.route == "a") == 5  # odd ids have gold A
    assert sum(row.correct for row in rows if row.route == "b") == 5
    assert {row.runtime_cost_usd for row in rows} == {Decimal("0.0001")}
    assert {row.category for row in rows} == {"刑法", "民法典"}


def test_a_failed_batch_is_not_paid_twice_and_its_rows_are_unpriced_until_a_resume_retries_them(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    route = LetterRoute("a", "A", fail_on="3")
    outcome = run_routes(_items(6), {"a": route}, store, "r2", batch_size=4)

    assert route.asked == ["0", "1", "2", "3", "4", "5"]  # 0-2 were not asked again one by one
    rows = {row.item_id: row for row in store.rows("r2")}
    assert outcome.errors == 4 and len(rows) == 6
    assert rows["3"].error == "RuntimeError: graph went away"
    assert rows["3"].correct is False  # an MCQ the route failed on counts as wrong
    assert [rows[i].priced for i in "012345"] == [False, False, False, False, True, True]
    assert rows["5"].correct is True

    earlier = store.take_errors("r2")
    assert sorted(earlier) == [("0", "a"), ("1", "a"), ("2", "a"), ("3", "a")]
    route.asked.clear()
    again = run_routes(_items(6), {"a": route}, store, "r2", batch_size=4, earlier_errors=earlier)

    assert route.asked == ["0", "1", "2", "3"]  # one at a time: only the bad item fails again
    assert (again.written, again.already_done, again.errors) == (4, 2, 1)
    rows = {row.item_id: row for row in store.rows("r2")}
    assert [rows[i].priced for i in "012345"] == [True, True, True, False, True, True]
    assert rows["0"].meta["earlier_error"] == "RuntimeError: graph went away"


def test_a_second_run_answers_only_what_is_missing(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    first = LetterRoute("a", "A")
    run_routes(_items(4), {"a": first}, store, "r3")
    again = LetterRoute("a", "A")
    outcome = run_routes(_items(10), {"a": again, "b": LetterRoute("b", "B")}, store, "r3")

    assert again.asked == ["4", "5", "6", "7", "8", "9"]
    assert (outcome.written, outcome.already_done) == (16, 4)
    assert len(store.rows("r3")) == 20


class EchoRoute(LetterRoute):
    """Answers open questions with fixed text."""

    def answer(self, question: Question) -> Answer:
        return super().answer(question).model_copy(update={"text": "故意杀人罪", "choice": None})


class StrictJudge:
    """Says an answer is right only when it equals the reference; costs a fixed, known amount."""

    def judge(self, item: EvalItem, answer_text: str) -> Judgement:
        cost = Cost(runtime_usd=Decimal("0.002"), basis="judge", priced=True)
        return Judgement(correct=answer_text == item.gold, cost=cost, raw="")


def test_a_judge_decides_open_answers_and_its_cost_stays_apart(tmp_path):
    store = ResultStore(f"sqlite:///{tmp_path / 'r.db'}")
    items = [
        EvalItem(id="o1", question="张三构成何罪？", gold="故意杀人罪", domain="legal"),
        EvalItem(id="o2", question="李四构成何罪？", gold="盗窃罪", domain="legal"),
    ]
    run_routes(items, {"a": EchoRoute("a", "A")}, store, "r4", judge=StrictJudge())

    rows = {row.item_id: row for row in store.rows("r4")}
    assert (rows["o1"].correct, rows["o2"].correct) == (True, False)
    assert rows["o1"].char_f1 == 1.0 and 0 < rows["o2"].char_f1 < 1  # 罪 is shared
    assert rows["o1"].runtime_cost_usd == Decimal("0.0001")  # the route's cost, not the judge's
    assert rows["o1"].meta["judge"]["cost_usd"] == "0.002"
