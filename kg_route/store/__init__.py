"""Open the graph store a URL names: `ladybug:PATH` (embedded) or `bolt://HOST:PORT[/DATABASE]` (Neo4j)."""

from __future__ import annotations

from pathlib import Path

from kg_route.store.bolt_store import BoltStore
from kg_route.store.ladybug_store import LadybugStore
from kgft.graph_store import GraphStore, GraphStoreError

__all__ = ["open_store"]

_LADYBUG = "ladybug:"
# The schemes the neo4j driver itself accepts: direct (bolt) or routed (neo4j), plain or TLS.
_BOLT = tuple(f"{scheme}{tls}://" for scheme in ("bolt", "neo4j") for tls in ("", "+s", "+ssc"))
_FORMS = "ladybug:PATH, bolt://HOST:PORT[/DATABASE] or neo4j://HOST:PORT[/DATABASE]"


def open_store(url: str, user: str | None = None, password: str | None = None) -> GraphStore:
    """The one place a graph URL becomes an engine (the `kgft.graph_stores` entry point); user and
    password matter to Bolt servers only."""
    if url.startswith(_LADYBUG) and url.removeprefix(_LADYBUG):
        return LadybugStore(Path(url.removeprefix(_LADYBUG)).expanduser())
    if url.startswith(_BOLT):
        return BoltStore(url, user, password)
    raise GraphStoreError(f"unknown graph store {url!r}: use {_FORMS}")
