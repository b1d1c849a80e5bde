"""Embedded Ladybug (the maintained Kùzu fork): the graph lives in one file, no server to run.

Batches are staged as Parquet and loaded with COPY, because row-by-row MERGE (or UNWIND over a
list of maps) is orders of magnitude too slow for CMeKG's ~1M edges. COPY only appends, so each
batch is first matched against the graph with LOAD FROM, and only the rows that are new are copied.

An existing graph is opened read-only, so `kgft serve` and `kgft eval run` read one home at once; the
first write (ingest, or a schema that is missing) reopens it for writing, which takes the file's lock.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Any

# Load order matters: when ladybug's extension is loaded before llama.cpp's, creating a llama.cpp
# model in the same process dies with std::bad_alloc. Loading xllamacpp first keeps both working.
import xllamacpp  # noqa: F401

# isort: split
import ladybug
import pyarrow as pa
import pyarrow.parquet as pq

from kg_route.store.batches import distinct_edges, endpoint_ids, last_per_id, refuse_missing_endpoints
from kgft.errors import first_line
from kgft.graph_store import EdgeRow, GraphStoreError, NodeRow

_NODE_COLUMNS = [field.name for field in fields(NodeRow)]
_SCHEMA = (
    "CREATE NODE TABLE IF NOT EXISTS Node("
    "id STRING, kind STRING, name STRING, text STRING, source STRING, props STRING, PRIMARY KEY(id))",
    "CREATE REL TABLE IF NOT EXISTS REL(FROM Node TO Node, type STRING)",
)
_TABLES = {"Node", "REL"}
_NODE_FIELDS = ", ".join(f"n.{column}" for column in _NODE_COLUMNS)
_SET_NODE_FIELDS = ", ".join(f"n.{column} = {column}" for column in _NODE_COLUMNS[1:])


class LadybugStore:
    """A GraphStore over a Ladybug database file; `url` is `ladybug:PATH`."""

    def __init__(self, path: Path) -> None:
        self.url = f"ladybug:{path}"
        self._path = path
        self.read_only = path.exists()  # a new graph has to be created, which is a write
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = ladybug.Database(str(path), read_only=self.read_only)
            self._conn = ladybug.Connection(self._db)
        except (OSError, RuntimeError) as exc:
            raise GraphStoreError(f"cannot open graph store {self.url}: {_lock_line(exc)}") from exc

    def ensure_schema(self) -> None:
        if self.read_only and self._tables() >= _TABLES:
            return
        self._writable()
        for statement in _SCHEMA:
            self._execute(statement)

    def upsert_nodes(self, rows: Sequence[NodeRow]) -> int:
        batch = last_per_id(rows)
        if not batch:
            return 0
        self._writable()
        with self._transaction(), tempfile.TemporaryDirectory(prefix="kgft-nodes-") as staging:
            staged = _stage(Path(staging) / "batch.parquet", _node_table(batch))
            stored = {
                NodeRow(*values)
                for values in self._execute(
                    f"LOAD FROM {staged} MATCH (n:Node {{id: id}}) RETURN {_NODE_FIELDS}"
                )
            }
            stored_ids = {row.id for row in stored}
            new = [row for row in batch if row.id not in stored_ids]
            changed = [row for row in batch if row.id in stored_ids and row not in stored]
            if new:
                self._execute(f"COPY Node FROM {_stage(Path(staging) / 'new.parquet', _node_table(new))}")
            if changed:
                changed_file = _stage(Path(staging) / "changed.parquet", _node_table(changed))
                self._execute(f"LOAD FROM {changed_file} MATCH (n:Node {{id: id}}) SET {_SET_NODE_FIELDS}")
        return len(new)

    def upsert_edges(self, rows: Sequence[EdgeRow]) -> int:
        batch = distinct_edges(rows)
        if not batch:
            return 0
        self._writable()
        with self._transaction(), tempfile.TemporaryDirectory(prefix="kgft-edges-") as staging:
            wanted = endpoint_ids(batch)
            ids_file = _stage(Path(staging) / "ids.parquet", pa.table({"id": wanted}))
            found_rows = self._execute(f"LOAD FROM {ids_file} MATCH (n:Node {{id: id}}) RETURN n.id")
            found = {values[0] for values in found_rows}
            refuse_missing_endpoints(self.url, wanted, found)
            staged = _stage(Path(staging) / "batch.parquet", _edge_table(batch))
            stored = {
                EdgeRow(*values)
                for values in self._execute(
                    f"LOAD FROM {staged} MATCH (a:Node {{id: src}})-[e:REL]->(b:Node {{id: dst}}) "
                    "WHERE e.type = type RETURN a.id, e.type, b.id"
                )
            }
            new = [row for row in batch if row not in stored]
            if new:
                self._execute(f"COPY REL FROM {_stage(Path(staging) / 'new.parquet', _edge_table(new))}")
        return len(new)

    def read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        # A read-only transaction makes Ladybug refuse a write, as Neo4j does in a read session.
        self._execute("BEGIN TRANSACTION READ ONLY")
        try:
            columns, rows = self._query(cypher, params)
        finally:
            self._rollback_if_open()
        return [dict(zip(columns, values, strict=True)) for values in rows]

    def counts(self) -> tuple[int, int]:
        [[nodes]] = self._execute("MATCH (n:Node) RETURN count(n)")
        [[edges]] = self._execute("MATCH ()-[e:REL]->() RETURN count(e)")
        return nodes, edges

    def close(self) -> None:
        self._conn.close()
        self._db.close()

    def _tables(self) -> set[str]:
        return {str(values[0]) for values in self._execute("CALL show_tables() RETURN name")}

    def _writable(self) -> None:
        """Reopens a read-only graph for writing; one writer at a time, so this fails while another writes."""
        if not self.read_only:
            return
        self.close()
        try:
            self._db = ladybug.Database(str(self._path))
            self._conn = ladybug.Connection(self._db)
        except RuntimeError as exc:
            # Reading goes on; the next write tries the lock again.
            self._db = ladybug.Database(str(self._path), read_only=True)
            self._conn = ladybug.Connection(self._db)
            raise GraphStoreError(f"cannot write graph store {self.url}: {_lock_line(exc)}") from exc
        self.read_only = False

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """All-or-nothing per call: COPY and SET commit together or not at all."""
        self._execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self._rollback_if_open()
            raise
        self._execute("COMMIT")

    def _rollback_if_open(self) -> None:
        # A statement that fails has already rolled its transaction back, and ROLLBACK then errs.
        try:
            self._conn.execute("ROLLBACK")
        except RuntimeError:
            return

    def _execute(self, cypher: str) -> list[Any]:
        return self._query(cypher, {})[1]

    def _query(self, cypher: str, params: dict[str, Any]) -> tuple[list[str], list[Any]]:
        """Column names and rows of one statement; an engine error becomes a one-line GraphStoreError."""
        try:
            result = self._conn.execute(cypher, params)
        except RuntimeError as exc:
            raise GraphStoreError(f"graph query failed on {self.url}: {first_line(exc)}") from exc
        if isinstance(result, list):  # a string of several statements, all of them run
            raise GraphStoreError(f"graph query refused by {self.url}: send one statement at a time")
        return result.get_column_names(), result.get_all()


def _lock_line(exc: BaseException) -> str:
    """One line; for the write lock, who holds it and what to do."""
    line = first_line(exc)
    found = re.search(r"Lock is held by PID (\d+)", line)
    if found is None:
        return line
    return (
        f"another process (PID {found.group(1)}) is writing it; writes (ingest) take the graph alone, "
        "so wait for it to finish or stop it"
    )


def _node_table(rows: Sequence[NodeRow]) -> pa.Table:
    return pa.table({column: [getattr(row, column) for row in rows] for column in _NODE_COLUMNS})


def _edge_table(rows: Sequence[EdgeRow]) -> pa.Table:
    # COPY REL reads the first two columns as the FROM and TO keys, whatever their names.
    return pa.table(
        {
            "src": [row.src for row in rows],
            "dst": [row.dst for row in rows],
            "type": [row.type for row in rows],
        }
    )


def _stage(path: Path, table: pa.Table) -> str:
    """Write a batch for COPY / LOAD FROM and return the path as a Cypher string literal."""
    pq.write_table(table, path)
    return "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"
