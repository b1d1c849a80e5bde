"""What a fact carries into LangChain and LlamaIndex: the same keys in both, so a pipeline can switch."""

from __future__ import annotations

from typing import Any

from kg_route.facts import Fact
from kg_route.retrieval import Retrieval


def fact_metadata(fact: Fact, retrieval: Retrieval) -> dict[str, Any]:
    """`linked` lists the graph node ids the question was linked to (none for Text2Cypher)."""
    return {
        "id": fact.id,
        "source": fact.source,
        "score": fact.score,
        "linked": [link.node_id for link in retrieval.links],
    }
