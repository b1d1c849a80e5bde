"""Judged open answers: abstentions are wrong answers, and a failing judge never loses a paid answer."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from eval.items import EvalItem
from eval.metrics import Judgement
from eval.runner import judge_again, run_routes
from eval.summary import build_summary
from kgft.contract import Answer, Cost, Question, Timings
from kgft.results_store import ResultStore

ITEMS = [
    EvalItem(id="o1", question="张三构成何罪？", gold="故意杀人罪", domain="legal"),
    EvalItem(id="o2", question="李四构成何罪？", gold="盗窃罪", domain="legal"),
    EvalItem(id="o3", question="王五构成何罪？", gold="诈骗罪", domain="legal"),
]


class CountingRoute:
    """Says 故意杀人罪 to every question but abstains on `abstain_on`; counts what it was asked."""

    def __init__(self, name: str, abstain_on: frozenset[str] = frozenset()):
        self.name = name
        self.abstain_on = abstain_on
        self.asked: list[str] = []

    def answer(self, question: Question) -> Answer:
        self.asked.append(question.id)
        abstains = question.id in self.abstain_on
        return Answer(
            text="" if abstains else "故意杀人罪",
            route=self.name,
            model="fixed",
            timings=Timings(total_ms=1.0),
            cost=Cost(runtime_usd=Decimal("0.0001"), basis="flat", priced=True),
            abstained=abstains,
            abstain_reason="no facts" if abstains else None,
        )

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(question) for question in questions]


class FlakyJudge:
    """Right when the answer equals the reference; raises on the items in `fail_on`."""

    def __init__(self, fail_on: frozenset[str] = frozenset()):
        self.fail_on = fail_on
        self.judged: list[str] = []

    def judge(self, item: EvalItem, answer_text: str) -> Judgement:
        self.judged.append(item.id)
        if item.id in self.fail_on:
            raise TimeoutError("judge API timed out")
        cost = Cost(runtime_usd=Decimal("0.002"), basis="judge", priced=True)
        return Judgement(correct=answer_text == item.gold, cost=cost, raw="正确")


def _store(tmp_path) -> ResultStore:
    return ResultStore(f"sqlite:///{tmp_path / 'r.db'}")


def test_a_judged_abstention_is_wrong_and_costs_no_judging(tmp_path):
    store = _store(tmp_path)
    judge = FlakyJudge()
    run_routes(ITEMS, {"kg": CountingRoute("kg", frozenset({"o2"}))}, store, "r", judge=judge)

    rows = {row.item_id: row for row in store.rows("r")}
    assert [rows[i].correct for i in ("o1", "o2", "o3")] == [True, False, False]
    assert judge.judged == ["o1", "o3"]  # nothing to grade in an abstention
    assert "judge" not in rows["o2"].meta


def test_a_failing_judge_keeps_the_paid_answer_and_a_resume_grades_it_without_asking_again(tmp_path):
    store = _store(tmp_path)
    route = CountingRoute("kg")
    outcome = run_routes(ITEMS, {"kg": route}, store, "r", judge=FlakyJudge(frozenset({"o1"})))

    failed = {row.item_id: row for row in store.rows("r")}["o1"]
    assert outcome.errors == 1
    assert failed.error == "judge failed: TimeoutError: judge API timed out"
    assert failed.correct is None and failed.answer_text == "故意杀人罪"
    assert failed.priced and failed.runtime_cost_usd == Decimal("0.0001")  # the route's answer, paid

    # What `kgft eval run` does on resume: take the error rows, grade the judge's failures again.
    rows = store.rows("r")
    taken = store.take_errors("r")
    judge = FlakyJudge()
    graded = judge_again(rows, ITEMS, judge, store)
    route.asked.clear()
    again = run_routes(
        ITEMS,
        {"kg": route},
        store,
        "r",
        judge=judge,
        earlier_errors={key: error for key, error in taken.items() if key not in graded},
    )

    assert graded == {("o1", "kg")} and judge.judged == ["o1"]
    assert route.asked == [] and again.written == 0
    regraded = {row.item_id: row for row in store.rows("r")}["o1"]
    assert (regraded.error, regraded.correct) == (None, True)
    assert regraded.meta["judge"]["cost_usd"] == "0.002" and "judge_failed" not in regraded.meta


def test_a_judge_failure_stays_an_error_row_when_the_resume_has_no_judge(tmp_path):
    store = _store(tmp_path)
    run_routes(ITEMS[:1], {"kg": CountingRoute("kg")}, store, "r", judge=FlakyJudge(frozenset({"o1"})))
    rows = store.rows("r")
    store.take_errors("r")

    assert judge_again(rows, ITEMS, None, store) == {("o1", "kg")}
    [kept] = store.rows("r")
    assert kept.error is not None and kept.answer_text == "故意杀人罪"


def test_accuracy_counts_abstentions_as_wrong_and_is_also_reported_without_them(tmp_path):
    store = _store(tmp_path)
    run_routes(ITEMS, {"kg": CountingRoute("kg", frozenset({"o2"}))}, store, "r", judge=FlakyJudge())
    summary = build_summary(store.rows("r"), [], dataset="t", monthly_queries=1000, months=12)

    kg = summary["routes"]["kg"]
    assert (kg["n_scored"], kg["accuracy"]) == (3, 0.3333)  # o1 right; o2 abstained; o3 wrong
    assert (kg["n_answered_scored"], kg["accuracy_without_abstentions"]) == (2, 0.5)
    assert kg["abstention_rate"] == 0.3333
    assert kg["categories"]["all"]["accuracy_without_abstentions"] == 0.5
