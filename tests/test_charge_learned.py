"""The learned charge signal on a handful of invented precedents: it fits, it tells charges apart, it
says how sure it is, and the index uses its doubt to drop a second charge that only resembles the fact."""

from __future__ import annotations

import numpy as np
import pytest

from kg_route.charges.bm25 import CharBM25
from kg_route.charges.index import ChargeIndex, _Charge
from kg_route.charges.learned import ChargeModel, _lbfgs

THEFT = [
    "被告人趁无人之机盗窃店内现金三千元",
    "被告人撬开车门盗窃车内手机一部",
    "被告人在商场盗窃他人钱包一个",
    "被告人夜间翻墙入户盗窃金项链一条",
    "被告人扒窃乘客手机后逃离现场",
]
INJURY = [
    "被告人持木棍殴打被害人致其轻伤",
    "被告人因琐事与被害人争吵后将其打成轻伤",
    "被告人用拳头殴打被害人头部致轻伤二级",
    "被告人持刀划伤被害人手臂经鉴定为轻伤",
    "被告人与被害人互殴致被害人鼻骨骨折轻伤",
]


class Model:
    """The model with the BM25 index it reads facts through, as ChargeIndex holds them."""

    def __init__(self, texts: list[str], charges: list[list[int]], total: int):
        self.cases = CharBM25(texts)
        self.model = ChargeModel(self.cases, charges, total)

    def probabilities(self, fact: str) -> np.ndarray:
        return self.model.probabilities(*self.cases.vector(fact))


def test_the_model_tells_theft_from_injury_on_facts_it_has_not_seen():
    model = Model(THEFT + INJURY, [[0]] * len(THEFT) + [[1]] * len(INJURY), 3)

    theft = model.probabilities("被告人在超市盗窃香烟十条")
    injury = model.probabilities("被告人酒后殴打他人致轻伤")

    assert theft[0] > 0.5 > theft[1]
    assert injury[1] > 0.5 > injury[0]
    assert theft[2] == injury[2] == 0  # no precedent holds charge 2: the model does not score it


def test_a_fact_of_unknown_bigrams_gets_no_probability():
    model = Model(THEFT + INJURY, [[0]] * len(THEFT) + [[1]] * len(INJURY), 2)

    assert model.probabilities("今天天气很好").tolist() == [0.0, 0.0]


def test_a_precedent_of_two_charges_teaches_both():
    both = [
        f"{theft}，又{injury.removeprefix('被告人')}" for theft, injury in zip(THEFT, INJURY, strict=True)
    ]
    model = Model(both, [[0, 1]] * len(both), 2)

    found = model.probabilities("被告人盗窃手机后殴打失主致轻伤")

    assert found.min() > 0.5


def test_lbfgs_reaches_the_minimum_of_a_quadratic():
    scales = np.array([[1.0, 10.0], [100.0, 0.5]], dtype=np.float32)
    target = np.array([[3.0, -2.0], [0.5, 7.0]], dtype=np.float32)

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        gap = theta - target
        return float((scales * gap * gap).sum() / 2), scales * gap

    assert _lbfgs(objective, np.zeros((2, 2), np.float32)) == pytest.approx(target, abs=1e-3)


def test_a_document_vector_matches_its_row_in_the_index():
    repeated = "被告人盗窃手机，又盗窃手机，再盗窃钱包"  # its length differs from its distinct bigrams
    cases = CharBM25([*THEFT, repeated, *INJURY])

    columns, weights = cases.vector(repeated)

    row = cases.weights.tocsr()[len(THEFT)]
    assert columns.tolist() == sorted(row.indices.tolist())
    assert weights == pytest.approx(row.toarray().ravel()[columns])


def charge(name: str) -> _Charge:
    return _Charge(f"charge:{name}", name, (), (), "", ())


def test_the_index_drops_a_second_charge_the_model_doubts(monkeypatch):
    from kg_route.charges import index

    cases = [(f"case:t{i}", text, ["charge:盗窃罪"]) for i, text in enumerate(THEFT * 2)]
    cases += [(f"case:i{i}", text, ["charge:故意伤害罪"]) for i, text in enumerate(INJURY * 2)]
    ranker = ChargeIndex([charge("盗窃罪"), charge("故意伤害罪")], cases)
    fact = "被告人盗窃手机一部，并殴打他人"

    monkeypatch.setattr(index, "MULTI_RATIO", 0.0)  # every charge is near the best in score
    monkeypatch.setattr(index, "LEARNED_MIN_CASES", 1)
    monkeypatch.setattr(index, "LEARNED_SURE", 2.0)  # never sure: only the doubt gate acts
    monkeypatch.setattr(index, "LEARNED_FLOOR", 0.0)
    undoubted = ranker.rank(fact)
    monkeypatch.setattr(index, "LEARNED_FLOOR", 1.0)  # the model doubts every charge
    doubted = ranker.rank(fact)

    assert [hit.name for hit in undoubted.predicted] == ["盗窃罪", "故意伤害罪"]
    assert [hit.name for hit in doubted.predicted] == ["盗窃罪"]  # the best is always predicted
    assert 0 < doubted.hits[1].signals["learned"] < 1 == doubted.hits[0].signals["learned"]
