"""What a build cost belongs to: a project is a domain and a build config (this graph, this model).

A ledger entry names its project so a legal graph's ingest never lands in a medical run's all-in; None
in either part means "any", which is how a cost shared across projects (or an old entry) is written.
"""

from __future__ import annotations

from dataclasses import dataclass


def graph_config(store_url: str) -> str:
    """The config of a route that reads a graph: the store it reads."""
    return f"graph {store_url}"


def model_config(data_hash: str) -> str:
    """The config of a trained model: the data it learned from (trials on that data count towards it)."""
    return f"ft-data {data_hash[:12]}"


@dataclass(frozen=True)
class Project:
    domain: str | None
    config: str | None

    def covers(self, domain: str | None, configs: frozenset[str]) -> bool:
        """True when a cost of this project belongs to a run in `domain` of a route built from `configs`."""
        domain_ok = self.domain is None or domain is None or self.domain == domain
        return domain_ok and (self.config is None or self.config in configs)
