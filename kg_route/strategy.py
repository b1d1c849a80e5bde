"""The contract every retrieval strategy keeps, so strategies are swapped and compared by one code path."""

from __future__ import annotations

from datetime import date
from typing import Protocol, runtime_checkable

from kg_route.retrieval import Retrieval


@runtime_checkable
class RetrievalStrategy(Protocol):
    """Question → facts: FactRetriever (linking, fixed Cypher) or Text2CypherRetriever (model-written)."""

    def retrieve(self, question: str, as_of: date | None = None) -> Retrieval:
        """`as_of`: answer statutes from the versions in force that day (None: today)."""
        ...
