"""Facts → charges without an LLM: the graph's charges and precedent cases, ranked for a fact description."""

from kg_route.charges.index import ChargeHit, ChargeIndex, ChargeRanking

__all__ = ["ChargeHit", "ChargeIndex", "ChargeRanking"]
