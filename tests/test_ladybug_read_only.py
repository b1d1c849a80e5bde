"""The embedded graph opened read-only: serve and eval read one home at once, a writer says who holds it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kg_route.store.ladybug_store import LadybugStore
from kgft.graph_store import GraphStoreError, NodeRow

# Another process that opens the graph for writing and keeps it until its stdin closes (as ingest would).
_HOLD_WRITE = """
import sys, ladybug
db = ladybug.Database(sys.argv[1])
print("holding", flush=True)
sys.stdin.read()
"""


def _node(node_id: str) -> NodeRow:
    return NodeRow(node_id, "article", "第二百三十二条", "故意杀人的，处死刑", "刑法", "{}")


@pytest.fixture
def graph(tmp_path: Path) -> Path:
    path = tmp_path / "graph.lbug"
    store = LadybugStore(path)
    store.ensure_schema()
    store.upsert_nodes([_node("article:232")])
    store.close()
    return path


def test_an_existing_graph_opens_read_only_beside_a_writer_and_a_write_names_the_holder(graph):
    writer = subprocess.Popen(
        [sys.executable, "-c", _HOLD_WRITE, str(graph)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "holding"
        reader = LadybugStore(graph)  # as `kgft serve` or `kgft eval run` opens it
        reader.ensure_schema()  # the tables exist: no write needed
        assert reader.read_only and reader.counts() == (1, 0)
        with pytest.raises(GraphStoreError) as refused:
            reader.upsert_nodes([_node("article:233")])
        message = str(refused.value)
        assert "\n" not in message and f"PID {writer.pid}" in message and "ingest" in message
        assert reader.counts() == (1, 0)  # it still reads
        reader.close()
    finally:
        writer.communicate("", timeout=10)


def test_two_readers_share_a_graph_and_a_write_takes_it_once_free(graph):
    first, second = LadybugStore(graph), LadybugStore(graph)
    assert first.counts() == second.counts() == (1, 0)
    second.close()
    assert first.upsert_nodes([_node("article:233")]) == 1
    assert not first.read_only and first.counts() == (2, 0)
    first.close()
