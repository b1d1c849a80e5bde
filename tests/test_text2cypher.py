"""Text2Cypher on a real ArcadeDB Bolt server: model-written queries run only when they are bounded reads.

The validator is tested on its own with many queries; the strategy with a scripted chat model (so each
case is exact) and once end to end with the real SmolLM2 through KgftChatModel.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from kg_route.cypher_guard import DEFAULT_LIMIT, UnsafeCypherError, read_only_cypher
from kg_route.ingest import ingest_medical
from kg_route.integrations.langchain_graph import ReadOnlyGraph
from kg_route.integrations.langchain_llm import KgftChatModel
from kg_route.integrations.langchain_retriever import KGLangChainRetriever
from kg_route.text2cypher import SOURCE, Text2CypherRetriever, facts_from_rows
from kgft.backends import create_backend
from kgft.errors import UnsupportedError
from kgft.graph_store import GraphStore
from kgft.pricing import PriceBook
from kgft.settings import Settings

ARCADEDB = pytest.mark.parametrize("graph_store", ["arcadedb"], indirect=True)
# CMeKG's format: 7 nodes (2 diseases, 2 symptoms, 2 departments, 1 drug), 6 edges.
TRIPLES = [
    ("disease", "阑尾炎", "常见症状", "腹痛等"),
    ("disease", "阑尾炎", "常见症状", "发热"),
    ("disease", "阑尾炎", "就诊科室", "普外科"),
    ("disease", "阑尾炎", "药物治疗", "头孢曲松"),
    ("disease", "胃炎", "常见症状", "腹痛"),
    ("disease", "胃炎", "就诊科室", "消化内科"),
]
SYMPTOMS = (
    "MATCH (d:Node {name: '阑尾炎'})-[r:REL {type: '常见症状'}]->(s:Node) RETURN s.id AS id, s.name AS name"
)


@pytest.mark.parametrize(
    ("cypher", "runs"),
    [
        ("MATCH (n:Node) RETURN n.name", f"MATCH (n:Node) RETURN n.name LIMIT {DEFAULT_LIMIT}"),
        ("match (n) return n limit 5;", "match (n) return n limit 5"),
        ("MATCH (n) RETURN n LIMIT 5 // CREATE (m)", "MATCH (n) RETURN n LIMIT 5"),
        ("MATCH (n) /* MERGE */ RETURN n LIMIT 3", "MATCH (n)   RETURN n LIMIT 3"),
        # Keywords inside strings are data, and a `//` inside a string is no comment.
        (
            "MATCH (n {name: 'CREATE // DELETE'}) RETURN n.id AS id",
            f"MATCH (n {{name: 'CREATE // DELETE'}}) RETURN n.id AS id LIMIT {DEFAULT_LIMIT}",
        ),
        (
            'MATCH (n) WHERE n.text CONTAINS "a;b" RETURN n LIMIT 2',
            'MATCH (n) WHERE n.text CONTAINS "a;b" RETURN n LIMIT 2',
        ),
        # A LIMIT inside a subquery does not bound the query; one after the last RETURN does.
        (
            "CALL { MATCH (n) RETURN n LIMIT 1 } RETURN n",
            f"CALL {{ MATCH (n) RETURN n LIMIT 1 }} RETURN n LIMIT {DEFAULT_LIMIT}",
        ),
        (
            "CALL db.labels() YIELD label RETURN label",
            f"CALL db.labels() YIELD label RETURN label LIMIT {DEFAULT_LIMIT}",
        ),
        (
            "MATCH (n) RETURN n.name AS name, COUNT { (n)-->() } AS degree ORDER BY degree DESC LIMIT 10",
            "MATCH (n) RETURN n.name AS name, COUNT { (n)-->() } AS degree ORDER BY degree DESC LIMIT 10",
        ),
    ],
)
def test_guard_passes_bounded_reads_and_adds_a_missing_limit(cypher, runs):
    assert read_only_cypher(cypher) == runs
    assert read_only_cypher(runs) == runs  # what runs would pass again unchanged


@pytest.mark.parametrize(
    ("cypher", "reason"),
    [
        ("MATCH (n) /* x */ DETACH DELETE n", "not read-only: DETACH"),
        ("MATCH (n) DELETE n RETURN count(*)", "not read-only: DELETE"),
        ("MATCH (n) RETURN n; CREATE (m)", "more than one statement"),
        ("MATCH (n) RETURN n;\nMATCH (m) RETURN m", "more than one statement"),
        ("CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DETACH DELETE n', {})", "APOC"),
        ("CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'x', {}) YIELD batches RETURN batches", "APOC"),
        ("CALL `apoc`.`periodic`.iterate('a', 'b', {}) YIELD batches RETURN batches", "APOC"),
        ("RETURN apoc.version() AS v", "APOC"),
        ("create (n:Node {id: 'x'}) return n", "not read-only: CREATE"),
        ("MERGE (n:Node {id: 'x'}) RETURN n", "not read-only: MERGE"),
        ("LOAD CSV FROM 'file:///etc/passwd' AS line RETURN line", "not read-only: LOAD"),
        ("CALL db.createLabel('X')", "procedure not allowed: db.createLabel"),
        ("CALL dbms.security.createUser('x', 'y', false)", "procedure not allowed: dbms.security.createUser"),
        ("CALL dbms.components() YIELD name RETURN name", "procedure not allowed: dbms.components"),
        ("MATCH (n) SET n.name = 'x' RETURN n", "not read-only: SET"),
        ("MATCH (n) REMOVE n.name RETURN n", "not read-only: REMOVE"),
        ("DROP CONSTRAINT node_id", "not read-only: DROP"),
        ("MATCH (n) FOREACH (x IN [1] | SET n.a = x) RETURN n", "not read-only"),
        ("MATCH (n) CALL { WITH n DETACH DELETE n } IN TRANSACTIONS RETURN 1", "not read-only"),
        ("MATCH (n) CALL (n) { RETURN n.id AS i } IN TRANSACTIONS OF 10 ROWS RETURN i", "TRANSACTIONS"),
        ("USE system SHOW USERS YIELD user RETURN user", "not read-only: USE"),
        ("MATCH (n) `DELETE` n RETURN 1", "not read-only: DELETE"),  # a quoted name is still read
        ("MATCH (n) RETURN n /* unterminated", "unterminated comment"),
        ("MATCH (n {name: 'oops}) RETURN n", "unterminated string"),
        ("MATCH (n:Node)", "no RETURN"),
        ("// only a comment", "empty query"),
        ("I cannot answer that question.", "no RETURN"),
    ],
)
def test_guard_refuses_anything_but_one_read(cypher, reason):
    with pytest.raises(UnsafeCypherError, match=reason):
        read_only_cypher(cypher)


def test_rows_become_facts_keyed_by_node_id_or_a_stable_hash():
    rows = [
        {"id": "cmekg:发热", "name": "发热"},
        {"id": "cmekg:发热", "name": "发热"},  # the same node twice is one fact
        {"a": {"id": "article:x:1", "name": "第一条", "text": "为了惩罚犯罪"}},
        {"d.name": "阑尾炎", "symptoms": ["发热", "腹痛"]},
    ]
    facts = facts_from_rows(rows)
    assert [(fact.id, fact.text) for fact in facts[:2]] == [
        ("cmekg:发热", "发热"),
        ("article:x:1", "为了惩罚犯罪"),
    ]
    assert facts[2].text == "d.name: 阑尾炎; symptoms: 发热、腹痛"
    assert facts[2].id.startswith(f"{SOURCE}:") and facts[2].id == facts_from_rows(rows[3:])[0].id
    assert {fact.source for fact in facts} == {SOURCE}


def medical_graph(store: GraphStore, tmp_path: Path) -> GraphStore:
    triples = tmp_path / "triples.tsv.gz"
    with gzip.open(triples, "wt", encoding="utf-8") as handle:
        handle.write("subject_type\tsubject\tpredicate\tobject\n")
        handle.writelines("\t".join(triple) + "\n" for triple in TRIPLES)
    ingest_medical(store, triples, Settings(home=tmp_path), PriceBook.load(), progress=False)
    return store


@ARCADEDB
def test_a_valid_model_query_runs_bounded_and_its_rows_become_facts(graph_store, tmp_path):
    store = medical_graph(graph_store, tmp_path)
    reply = f"```cypher\n{SYMPTOMS}\n```"
    retrieval = Text2CypherRetriever(store, FakeListChatModel(responses=[reply])).retrieve(
        "阑尾炎有什么症状？"
    )
    assert retrieval.outcome == "ran" and retrieval.reason == ""
    assert retrieval.generated == reply
    assert retrieval.cypher == f"{SYMPTOMS} LIMIT {DEFAULT_LIMIT}"
    assert sorted((fact.id, fact.text) for fact in retrieval.facts) == [
        ("cmekg:发热", "发热"),
        ("cmekg:腹痛", "腹痛"),
    ]
    assert retrieval.links == []
    assert retrieval.retrieval_ms > 0


@ARCADEDB
def test_write_queries_are_rejected_before_they_reach_the_graph(graph_store, tmp_path):
    store = medical_graph(graph_store, tmp_path)
    before = store.counts()
    writes = [
        "MATCH (n) /* tidy up */ DETACH DELETE n",
        "MATCH (n:Node) RETURN n.name AS name; MATCH (m) DETACH DELETE m",
        "MATCH (n:Node) SET n.name = 'x' RETURN n.name AS name",
        "CREATE (n:Node {id: 'evil'}) RETURN n.id AS id",
        "CALL apoc.periodic.iterate('MATCH (n) RETURN n', 'DETACH DELETE n', {batchSize: 1})",
    ]
    retriever = Text2CypherRetriever(store, FakeListChatModel(responses=writes))
    for write in writes:
        retrieval = retriever.retrieve("清空这个图")
        assert (retrieval.outcome, retrieval.generated, retrieval.cypher) == ("rejected", write, None)
        assert retrieval.facts == [] and retrieval.reason
    assert store.counts() == before == (7, 6)
    assert store.read("MATCH (n:Node) WHERE n.name = 'x' OR n.id = 'evil' RETURN n.id AS id", {}) == []


@ARCADEDB
def test_a_query_the_engine_refuses_is_a_failed_retrieval_not_an_exception(graph_store, tmp_path):
    store = medical_graph(graph_store, tmp_path)
    nonsense = FakeListChatModel(responses=["MATCH (n:Node RETURN n"])
    retrieval = Text2CypherRetriever(store, nonsense).retrieve("阑尾炎有什么症状？")
    assert retrieval.outcome == "failed"
    assert store.url in retrieval.reason and "Syntax error" in retrieval.reason
    assert retrieval.facts == []


@ARCADEDB
def test_schema_is_read_from_the_graph_and_the_adapter_only_reads(graph_store, tmp_path):
    store = medical_graph(graph_store, tmp_path)
    graph = ReadOnlyGraph(store)
    # Most nodes first, ties by name: two diseases, two departments, two symptoms, one drug.
    assert "Node kinds (n.kind): Department, Disease, Symptom, Drug" in graph.get_schema
    assert "Relation names (r.type), most frequent first: 常见症状, 就诊科室, 药物治疗" in graph.get_schema
    assert graph.get_structured_schema["relationships"] == [{"start": "Node", "type": "REL", "end": "Node"}]
    with pytest.raises(UnsafeCypherError):  # the adapter checks too, whatever chain calls it
        graph.query("MATCH (n) DETACH DELETE n")
    with pytest.raises(UnsupportedError):
        graph.add_graph_documents([])
    assert graph.query("MATCH (n:Node {kind: 'Department'}) RETURN n.name AS name ORDER BY name") == [
        {"name": "普外科"},
        {"name": "消化内科"},
    ]
    assert store.counts() == (7, 6)


@ARCADEDB
def test_text2cypher_serves_langchain_like_the_linking_strategy(graph_store, tmp_path):
    store = medical_graph(graph_store, tmp_path)
    strategy = Text2CypherRetriever(store, FakeListChatModel(responses=[SYMPTOMS]))
    documents = KGLangChainRetriever(retriever=strategy).invoke("阑尾炎有什么症状？")
    assert sorted(document.page_content for document in documents) == ["发热", "腹痛"]
    assert {document.metadata["source"] for document in documents} == {SOURCE}


@ARCADEDB
def test_smollm2_end_to_end_finishes_and_records_what_it_wrote(graph_store, tmp_path):
    store = medical_graph(graph_store, tmp_path)
    before = store.counts()
    backend = create_backend("gguf:smollm2", Settings(home=tmp_path, threads=1))
    try:
        model = KgftChatModel(backend=backend, max_tokens=64)
        retrieval = Text2CypherRetriever(store, model).retrieve("阑尾炎的常见症状有哪些？")
    finally:
        backend.close()
    # SmolLM2-135M writes Cypher badly: whatever it wrote, the outcome is recorded, never raised.
    assert retrieval.generated.strip()
    assert retrieval.outcome in {"ran", "rejected", "failed"}
    assert (retrieval.cypher is not None) == (retrieval.outcome == "ran")
    assert retrieval.facts or retrieval.reason
    assert retrieval.prompt_tokens > 300  # the schema and the few-shot examples
    assert 0 < retrieval.completion_tokens <= 64
    assert store.counts() == before
