"""A fact the KG route can put in front of a model, and cite."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    """One citable statement: an article's text, or a triple written out as a sentence."""

    id: str  # the node id for articles; "src|relation" (outgoing) or "dst|relation|in" for triples
    text: str
    source: str
    score: float = 0.0
    # The names the fact's subject answers to (a charge's name and aliases), for readers that match
    # options by name; empty for articles and triples.
    names: tuple[str, ...] = ()
    # A statute article's version (its date) and its status on the day asked about (kg_route.law_in_force).
    version_date: str | None = None
    status: str | None = None
