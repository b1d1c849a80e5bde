"""Charge rankings as the KG route's ordinary facts and links, for questions that ask which crime.

A question gets charge facts when it asks for a charge or an article ("构成什么罪", "案由", "哪一条") or reads
like a case description ("被告人", "经审理查明"); a statute question ("刑法第二百三十二条的内容是") does not.
Each candidate charge is one fact (its name, articles, element phrases, score), and the predicted
charges' articles follow as article facts, so citations carry both.
"""

from __future__ import annotations

import re
from functools import cached_property

from kg_route.charges.index import ChargeIndex, ChargeRanking
from kg_route.facts import Fact
from kg_route.linking import Link
from kgft.graph_store import GraphStore

_ASKS = (
    r"罪名|案由|什么罪|何罪|哪(?:个|种|一|些|项)?罪|构成.{0,10}罪|定.{0,2}罪|涉嫌.{0,10}罪|触犯.{0,12}(?:罪|法|条)"
    r"|犯了.{0,4}罪|哪一?条|什么法条|适用.{0,8}法条|\b(?:which|what) (?:crime|offence|offense|charge)"
)
ASKING_CLAUSE = re.compile(_ASKS, re.IGNORECASE)
CHARGE_QUESTION = re.compile(
    _ASKS + r"|被告人|犯罪嫌疑人|公诉机关|检察院.{0,4}指控|经审理查明", re.IGNORECASE
)
# A clause that asks ("这构成什么罪？", "被告人涉及的案由是：") is no part of the facts: it is not ranked.
_CLAUSES = re.compile(r"[^，,。？?！!；;：:]*[，,。？?！!；;：:]*")
ELEMENTS_SHOWN = 8
_HAS_CHARGES = "MATCH (c:Node) WHERE c.kind = 'Charge' RETURN c.id AS id LIMIT 1"


def asks_for_charges(question: str) -> bool:
    return CHARGE_QUESTION.search(question) is not None


def described_facts(question: str) -> str:
    """The question less its asking clauses: what happened, which is what precedents resemble."""
    clauses = [clause for clause in _CLAUSES.findall(question) if clause]
    kept = [clause for clause in clauses if not ASKING_CLAUSE.search(clause)]
    return "".join(kept).strip() or question


class ChargeFacts:
    """The crime layer's facts for a question; the index is built on the first charge question."""

    def __init__(self, store: GraphStore, index: ChargeIndex | None = None):
        self.store = store
        if index is not None:
            self.__dict__["index"] = index

    @cached_property
    def index(self) -> ChargeIndex | None:
        """None when the graph has no crime layer (statutes or CMeKG only)."""
        if not self.store.read(_HAS_CHARGES, {}):
            return None
        return ChargeIndex.from_store(self.store)

    def ranking(self, question: str) -> ChargeRanking | None:
        """The ranking for a charge question; None for other questions or a graph without charges."""
        if not asks_for_charges(question) or self.index is None:
            return None
        return self.index.rank(described_facts(question))


def charge_facts(ranking: ChargeRanking) -> list[Fact]:
    """Candidates first (best first), then the predicted charges' articles."""
    facts = [
        Fact(
            hit.id,
            _describe(
                hit.name,
                hit.predicted,
                [a.source for a in hit.articles],
                hit.elements,
                hit.score,
                hit.precedents,
            ),
            hit.source,
            hit.score,
            names=(hit.name, *hit.aliases),
        )
        for hit in ranking.hits
    ]
    best = ranking.hits[0].score if ranking.hits else 0.0
    facts += [Fact(article.id, article.text, article.source, best) for article in ranking.articles]
    return facts


def charge_links(ranking: ChargeRanking, question: str) -> list[Link]:
    """The predicted charges, as links spanning the whole question (the facts, not a name, point at them)."""
    return [
        Link(hit.id, "Charge", hit.name, 0, len(question), "charges", hit.score) for hit in ranking.predicted
    ]


def _describe(
    name: str,
    predicted: bool,
    articles: list[str],
    elements: tuple[str, ...],
    score: float,
    precedents: tuple,
) -> str:
    cited = "、".join(source.replace(" ", "") for source in articles) or "无对应刑法条文"
    parts = [f"罪名：{name}（{'判定' if predicted else '候选'}，得分{score:.2f}）", f"法条：{cited}"]
    if elements:
        parts.append("要件：" + "、".join(elements[:ELEMENTS_SHOWN]))
    if precedents:
        parts.append(f"相似判例{len(precedents)}件")
    return "；".join(parts) + "。"
