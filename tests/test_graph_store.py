"""The GraphStore contract on every real engine: Ladybug, ArcadeDB over Bolt, and Neo4j where Docker runs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from kg_route.store import open_store
from kgft.graph_store import EdgeRow, GraphStore, GraphStoreError, NodeRow
from tests.graph_servers import free_port

INJECTION = "'}) DETACH DELETE n //"
LAW = NodeRow("law:刑法", "Law", "中华人民共和国刑法", source="statutes")
ARTICLES = [
    NodeRow(
        f"art:刑法:{n}",
        "Article",
        f"第{n}条",
        text=f"第{n}条 条文\n含 \"引号\" 与 '单引号'",
        source="statutes",
    )
    for n in range(1, 6)
]
DISEASE = NodeRow("cmekg:肺炎", "Disease", "肺炎", props='{"科室": "呼吸内科"}', source="cmekg")
SYMPTOM = NodeRow("cmekg:咳嗽", "Symptom", "咳嗽", source="cmekg")
NODES = [LAW, *ARTICLES, DISEASE, SYMPTOM]
EDGES = [EdgeRow(LAW.id, "HAS_ARTICLE", article.id) for article in ARTICLES] + [
    EdgeRow(DISEASE.id, "常见症状", SYMPTOM.id)
]


@pytest.fixture
def store(graph_store: GraphStore) -> GraphStore:
    graph_store.ensure_schema()
    return graph_store


def test_schema_is_idempotent(graph_store: GraphStore) -> None:
    graph_store.ensure_schema()
    graph_store.ensure_schema()
    assert graph_store.counts() == (0, 0)
    assert graph_store.upsert_nodes([LAW]) == 1


def test_upserting_nodes_twice_adds_nothing_the_second_time(store: GraphStore) -> None:
    assert store.upsert_nodes(NODES) == 8
    assert store.upsert_nodes(NODES) == 0
    assert store.counts() == (8, 0)


def test_upsert_updates_an_existing_node_in_place(store: GraphStore) -> None:
    store.upsert_nodes(NODES)
    renamed = NodeRow(LAW.id, "Law", "刑法（2023修正）", source="statutes")
    # The same id twice in one batch: the last row wins, as if upserted one by one.
    assert store.upsert_nodes([LAW, renamed]) == 0
    rows = store.read("MATCH (n:Node {id: $id}) RETURN n.name AS name", {"id": LAW.id})
    assert rows == [{"name": "刑法（2023修正）"}]
    assert store.counts() == (8, 0)


def test_edges_are_idempotent_and_typed(store: GraphStore) -> None:
    store.upsert_nodes(NODES)
    assert store.upsert_edges(EDGES + EDGES[:2]) == 6  # repeats inside a batch count once
    assert store.upsert_edges(EDGES) == 0
    # The same pair under another relation name is another edge.
    assert store.upsert_edges([EdgeRow(DISEASE.id, "相关症状", SYMPTOM.id)]) == 1
    assert store.counts() == (8, 7)


def test_read_binds_parameters_and_returns_dicts_keyed_by_alias(store: GraphStore) -> None:
    store.upsert_nodes(NODES)
    store.upsert_edges(EDGES)
    rows = store.read(
        "MATCH (l:Node {id: $law})-[r:REL]->(a:Node) WHERE r.type = $type "
        "RETURN a.name AS article, a.text AS text ORDER BY a.id LIMIT $limit",
        {"law": LAW.id, "type": "HAS_ARTICLE", "limit": 2},
    )
    assert rows == [{"article": a.name, "text": a.text} for a in ARTICLES[:2]]
    [disease] = store.read("MATCH (n:Node {name: $name}) RETURN n.props AS props", {"name": "肺炎"})
    assert disease == {"props": '{"科室": "呼吸内科"}'}


def test_injection_text_is_stored_verbatim_and_reading_it_changes_nothing(store: GraphStore) -> None:
    store.upsert_nodes([*NODES, NodeRow("evil", "Drug", INJECTION, text=INJECTION)])
    store.upsert_edges(EDGES)
    before = store.counts()
    rows = store.read("MATCH (n:Node {name: $name}) RETURN n.id AS id, n.text AS text", {"name": INJECTION})
    assert rows == [{"id": "evil", "text": INJECTION}]
    assert before == store.counts() == (9, 6)


def test_an_edge_to_a_missing_node_refuses_the_whole_batch(store: GraphStore) -> None:
    """Policy: fail whole, naming the missing id; a dangling edge means the nodes were not loaded."""
    store.upsert_nodes(NODES)
    with pytest.raises(GraphStoreError, match="no node with id 'cmekg:不存在'"):
        store.upsert_edges([*EDGES, EdgeRow(DISEASE.id, "常见症状", "cmekg:不存在")])
    assert store.counts() == (8, 0)


def test_read_refuses_a_write_and_keeps_nothing_of_it(store: GraphStore) -> None:
    with pytest.raises(GraphStoreError):
        store.read("CREATE (n:Node {id: $id, kind: 'X', name: 'x'}) RETURN n.id AS id", {"id": "sneaky"})
    assert store.counts() == (0, 0)


def test_ladybug_graph_survives_reopening(ladybug_url: str) -> None:
    first = open_store(ladybug_url, None, None)
    first.ensure_schema()
    first.upsert_nodes(NODES)
    first.upsert_edges(EDGES)
    first.close()
    again = open_store(ladybug_url, None, None)
    assert again.counts() == (8, 6)
    again.close()


def test_unreachable_bolt_server_is_named_in_the_error() -> None:
    url = f"bolt://127.0.0.1:{free_port()}"
    with pytest.raises(GraphStoreError, match=f"cannot reach graph store {url}"):
        open_store(url, "neo4j", "password")


def test_unknown_scheme_lists_the_forms_it_accepts() -> None:
    with pytest.raises(GraphStoreError) as raised:
        open_store("sqlite:graph.db", None, None)
    message = str(raised.value)
    assert "sqlite:graph.db" in message
    assert "ladybug:PATH" in message
    assert "bolt://HOST:PORT" in message
    assert "\n" not in message


@pytest.mark.slow
def test_ladybug_bulk_upsert_of_200k_nodes_and_edges(tmp_path: Path) -> None:
    count = 200_000
    nodes = [NodeRow(f"n{i}", "Disease", f"疾病{i}", text=f"描述{i}", source="bulk") for i in range(count)]
    edges = [EdgeRow(f"n{i}", f"关系{i % 50}", f"n{(i * 31 + 7) % count}") for i in range(count)]
    store = open_store(f"ladybug:{tmp_path / 'bulk.lbug'}", None, None)
    store.ensure_schema()

    started = time.perf_counter()
    assert store.upsert_nodes(nodes) == count
    nodes_s = time.perf_counter() - started
    assert store.upsert_edges(edges) == count
    load_s = time.perf_counter() - started
    assert store.upsert_nodes(nodes) == 0
    assert store.upsert_edges(edges) == 0
    again_s = time.perf_counter() - started - load_s

    assert store.counts() == (count, count)
    store.close()
    print(f"\nladybug bulk: {count} nodes {nodes_s:.1f} s, then {count} edges by {load_s:.1f} s in all;")
    print(f"upserting both again (nothing new) {again_s:.1f} s")
