"""Neo4j 5 (or any server that speaks its Bolt + Cypher, such as ArcadeDB) through the official driver.

Every write call is one transaction: its statements go in chunks, so no Bolt message outgrows a
server's cap (ArcadeDB refuses messages over 16 MB by default), yet the batch commits as a whole.
The Cypher here is the subset Neo4j 5 and ArcadeDB both run, so there is no dialect to switch on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import neo4j
from neo4j.exceptions import DriverError, Neo4jError

from kg_route.store.batches import chunks, distinct_edges, endpoint_ids, last_per_id, refuse_missing_endpoints
from kgft.errors import first_line
from kgft.graph_store import EdgeRow, GraphStoreError, NodeRow

T = TypeVar("T")

CONNECT_TIMEOUT_S = 10.0
# ~5,000 CMeKG rows make a message of about 1 MB: far from any cap, few enough round trips.
_ROWS_PER_STATEMENT = 5_000

# Neo4j 5 syntax; ArcadeDB runs it too and backs it with a unique index on Node.id.
_NODE_ID_UNIQUE = "CREATE CONSTRAINT node_id IF NOT EXISTS FOR (n:Node) REQUIRE n.id IS UNIQUE"
_MERGE_NODES = (
    "UNWIND $rows AS r MERGE (n:Node {id: r.id}) "
    "SET n.kind = r.kind, n.name = r.name, n.text = r.text, n.source = r.source, n.props = r.props"
)
_FIND_NODES = "UNWIND $ids AS i MATCH (n:Node {id: i}) RETURN n.id AS id"
_MERGE_EDGES = (
    "UNWIND $rows AS r MATCH (a:Node {id: r.src}) MATCH (b:Node {id: r.dst}) "
    "MERGE (a)-[:REL {type: r.type}]->(b)"
)


class BoltStore:
    """A GraphStore over Bolt; `url` is `bolt://HOST:PORT[/DATABASE]` (or neo4j://, +s, +ssc).

    The optional path names the database; without it the server's default database is used.
    """

    def __init__(self, url: str, user: str | None, password: str | None) -> None:
        self.url = url
        address, self._database = _split_database(url)
        auth = (user, password or "") if user else None
        try:
            driver = neo4j.GraphDatabase.driver(address, auth=auth, connection_timeout=CONNECT_TIMEOUT_S)
        except (DriverError, ValueError) as exc:
            raise GraphStoreError(f"malformed graph store URL {url}: {first_line(exc)}") from exc
        try:
            driver.verify_connectivity()
        except (DriverError, Neo4jError, OSError) as exc:
            driver.close()
            raise GraphStoreError(f"cannot reach graph store {url}: {first_line(exc)}") from exc
        self._driver = driver

    def ensure_schema(self) -> None:
        self._write(lambda tx: tx.run(_NODE_ID_UNIQUE).consume())

    def upsert_nodes(self, rows: Sequence[NodeRow]) -> int:
        batch = [asdict(row) for row in last_per_id(rows)]

        def merge(tx: neo4j.ManagedTransaction) -> int:
            return sum(
                tx.run(_MERGE_NODES, rows=chunk).consume().counters.nodes_created
                for chunk in chunks(batch, _ROWS_PER_STATEMENT)
            )

        return self._write(merge) if batch else 0

    def upsert_edges(self, rows: Sequence[EdgeRow]) -> int:
        batch = distinct_edges(rows)
        wanted = endpoint_ids(batch)

        def merge(tx: neo4j.ManagedTransaction) -> int:
            found = {
                record["id"]
                for chunk in chunks(wanted, _ROWS_PER_STATEMENT)
                for record in tx.run(_FIND_NODES, ids=list(chunk))
            }
            refuse_missing_endpoints(self.url, wanted, found)
            return sum(
                tx.run(_MERGE_EDGES, rows=[asdict(row) for row in chunk])
                .consume()
                .counters.relationships_created
                for chunk in chunks(batch, _ROWS_PER_STATEMENT)
            )

        return self._write(merge) if batch else 0

    def read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        def fetch(tx: neo4j.ManagedTransaction) -> list[dict[str, Any]]:
            result = tx.run(cypher, params)
            rows = result.data()
            # Neo4j refuses writes in a read transaction by itself; ArcadeDB runs them, so roll back here.
            if result.consume().counters.contains_updates:
                raise GraphStoreError(f"graph query refused by {self.url}: a read must not write")
            return rows

        try:
            with self._driver.session(database=self._database) as session:
                return session.execute_read(fetch)
        except (DriverError, Neo4jError) as exc:
            raise GraphStoreError(f"graph query failed on {self.url}: {first_line(exc)}") from exc

    def counts(self) -> tuple[int, int]:
        [nodes] = self.read("MATCH (n:Node) RETURN count(n) AS n", {})
        [edges] = self.read("MATCH ()-[e:REL]->() RETURN count(e) AS e", {})
        return nodes["n"], edges["e"]

    def close(self) -> None:
        self._driver.close()

    def _write(self, work: Callable[[neo4j.ManagedTransaction], T]) -> T:
        """Run `work(tx)` in one write transaction: it commits whole or, on any error, not at all."""
        try:
            with self._driver.session(database=self._database) as session:
                return session.execute_write(work)
        except (DriverError, Neo4jError) as exc:
            raise GraphStoreError(f"graph write failed on {self.url}: {first_line(exc)}") from exc


def _split_database(url: str) -> tuple[str, str | None]:
    """`bolt://h:p/db` -> (`bolt://h:p`, "db"): the driver takes the database per session, not in the URL."""
    parts = urlsplit(url)
    database = parts.path.strip("/") or None
    return urlunsplit((parts.scheme, parts.netloc, "", parts.query, "")), database
