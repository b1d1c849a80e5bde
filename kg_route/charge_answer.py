"""An open question that asks which crime a described case is ("…被告人构成什么罪？") is answered from the
charge ranking itself: the predicted charges and the articles that define them, as the graph holds them.
A model could only copy them out of its prompt, and SmolLM2 cannot; a question that asks anything else
about the case (sentencing, procedure) is left to the model."""

from __future__ import annotations

from dataclasses import dataclass

from kg_route.charges.facts import ASKING_CLAUSE
from kg_route.charges.index import ChargeRanking


@dataclass(frozen=True)
class ChargeAnswer:
    text: str  # "罪名：危险驾驶罪\n法条：中华人民共和国刑法第一百三十三条之一"
    fact_ids: tuple[str, ...]  # the predicted charges and their articles, as the retrieval's facts name them


def charge_answer(question: str, ranking: ChargeRanking | None) -> ChargeAnswer | None:
    if ranking is None or not ranking.predicted or ASKING_CLAUSE.search(question) is None:
        return None
    names = "、".join(hit.name for hit in ranking.predicted)
    articles = "、".join(article.source.replace(" ", "") for article in ranking.articles)
    text = f"罪名：{names}" + (f"\n法条：{articles}" if articles else "")
    ids = tuple(hit.id for hit in ranking.predicted) + tuple(article.id for article in ranking.articles)
    return ChargeAnswer(text, ids)
