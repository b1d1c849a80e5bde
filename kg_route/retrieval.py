"""Facts for a question with no LLM call: link names, fetch 1–2 hop facts with parametrized Cypher, rank, cut.

Legal: a question that asks which crime (or reads like a case description) gets the crime layer's
ranked charges first (kg_route.charges: no model call); a linked article is its own fact; a law named
without an article contributes its articles (law → chapter → section → article, up to 3 hops) ranked by
overlap with the question. Medical: a linked
entity's outgoing triples, grouped per relation ("阑尾炎 常见症状：腹痛、发热"), and triples pointing at it
("常见症状包含腹痛的：阑尾炎、胃炎").
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from kg_route.charges.facts import ChargeFacts, charge_facts, charge_links
from kg_route.charges.index import ChargeRanking
from kg_route.facts import Fact
from kg_route.ingest.law_versions import SUCCEEDS, SUPERSEDES
from kg_route.law_in_force import IN_FORCE, LawsInForce, status_on
from kg_route.linking import EntityLinker, Link
from kg_route.linking.question_focus import question_focus
from kg_route.readers import char_ngrams
from kg_route.statute_reads import law_articles, laws
from kgft.graph_store import GraphStore

STRUCTURE = ["HAS_CHAPTER", "HAS_SECTION", "HAS_ARTICLE", SUPERSEDES, SUCCEEDS]
_STATUTE_KINDS = frozenset({"Law", "Article"})
# Lookups go through `{id: $id}` so engines use the primary-key index; `WHERE n.id IN $ids` scans
# every node on Ladybug (13 ms vs 0.03 ms), and UNWIND over ids before an edge pattern is slower still.
_ARTICLES = "UNWIND $ids AS i MATCH (a:Node {id: i}) RETURN a.id AS id, a.text AS text, a.source AS source"
_OUTGOING = (
    "MATCH (s:Node {id: $id})-[r:REL]->(o:Node) WHERE NOT r.type IN $structure "
    "RETURN s.name AS src_name, r.type AS rel, o.name AS dst_name LIMIT $limit"
)
_INCOMING = (
    "MATCH (s:Node)-[r:REL]->(o:Node {id: $id}) WHERE NOT r.type IN $structure "
    "RETURN s.name AS src_name, r.type AS rel, o.name AS dst_name LIMIT $limit"
)
# Words in a question that point at one relation; a fact of that relation ranks first.
RELATION_CUES: dict[str, tuple[str, ...]] = {
    "常见症状": ("症状", "表现", "征象"),
    "就诊科室": ("科室", "挂什么科", "哪个科", "看什么科"),
    "药物治疗": ("药", "用什么"),
    "并发症": ("并发",),
    "常见病因": ("病因", "原因", "引起"),
    "检查": ("检查", "化验"),
    "治疗方案": ("治疗", "怎么治"),
}
_ARTICLE_SCORE = 10.0
_OUT_SCORE = 1.0
_IN_SCORE = 0.5
_CUE_BONUS = 3.0
# Hubs (腹痛 is a symptom of thousands of diseases) would flood the prompt and the ranking.
_OUT_LIMIT = 1000
_IN_LIMIT = 200


def _law_of(node_id: str) -> str:
    """law:X for law:X and article:X:N."""
    return f"law:{node_id.split(':')[1]}"


def _article_in(article_id: str, law_id: str) -> str:
    """The same article key in another version of the law: article:X:N → article:Y:N."""
    return f"article:{law_id.removeprefix('law:')}:{article_id.split(':', 2)[2]}"


@dataclass(frozen=True)
class Retrieval:
    """`linked_text` is what was linked and ranked (the question less its format examples); link spans
    index it. `stripped` lists what was taken out."""

    links: list[Link]
    facts: list[Fact]
    retrieval_ms: float
    linked_text: str = field(default="", kw_only=True)
    stripped: tuple[str, ...] = field(default=(), kw_only=True)
    # Why nothing could be retrieved when the reason is more than "nothing linked" (a charge question
    # whose fact text is empty, too long, not Chinese or names no crime).
    abstain_reason: str | None = field(default=None, kw_only=True)
    charges: ChargeRanking | None = field(default=None, kw_only=True)  # for a question that asks which crime


class FactRetriever:
    """Question → ranked facts within a token budget (estimated at one token per character)."""

    def __init__(
        self,
        store: GraphStore,
        linker: EntityLinker,
        budget_tokens: int = 1024,
        max_facts: int = 12,
        charges: ChargeFacts | None = None,
        today: Callable[[], date] = date.today,
    ):
        self.store = store
        self.linker = linker
        self.budget_tokens = budget_tokens
        self.max_facts = max_facts
        self.charges = charges or ChargeFacts(store)
        self.today = today
        self._laws: LawsInForce | None = None  # read from the graph on the first statute question

    def retrieve(self, question: str, as_of: date | None = None) -> Retrieval:
        """Facts for `question`; statutes from the versions in force on `as_of` (default today)."""
        started = time.perf_counter()
        focus = question_focus(question)
        links = self.linker.link(focus.text)
        day = as_of or self.today()
        if any(link.kind in _STATUTE_KINDS for link in links):
            links = self._in_force(links, day)
        facts = self._rank(focus.text, self._candidates(links, day)) if links else []
        ranking = self.charges.ranking(focus.text)
        reason = None
        if ranking is not None:
            links = charge_links(ranking, focus.text) + links
            facts = charge_facts(ranking) + facts
            reason = ranking.abstain_reason if not links else None
        return Retrieval(
            links,
            self._within_budget(facts),
            (time.perf_counter() - started) * 1000,
            linked_text=focus.text,
            stripped=focus.stripped,
            abstain_reason=reason,
            charges=ranking,
        )

    def article(self, node_id: str) -> Fact | None:
        """One article's whole text (retrieved facts may be cut to the budget), for recitation."""
        rows = self.store.read(_ARTICLES, {"ids": [node_id]})
        return Fact(rows[0]["id"], rows[0]["text"], rows[0]["source"], _ARTICLE_SCORE) if rows else None

    def _in_force(self, links: list[Link], day: date) -> list[Link]:
        """Each linked law or article moved to the version in force on `day`, its status noted."""
        moved = []
        for link in links:
            if link.kind in _STATUTE_KINDS:
                law_id = _law_of(link.node_id)
                version = self._laws_table().on(law_id, day)
                if version is not None and version.law_id != law_id:
                    if link.kind == "Law":
                        link = replace(link, node_id=version.law_id)
                    else:  # an article number the version in force lacks keeps the version linked
                        node_id = _article_in(link.node_id, version.law_id)
                        if self.store.read(_ARTICLES, {"ids": [node_id]}):
                            link = replace(link, node_id=node_id)
            moved.append(link)
        return moved

    def _laws_table(self) -> LawsInForce:
        if self._laws is None:
            self._laws = LawsInForce(laws(self.store))
        return self._laws

    def _candidates(self, links: Sequence[Link], day: date) -> list[Fact]:
        articles = [link.node_id for link in links if link.kind == "Article"]
        linked_laws = {link.node_id for link in links if link.kind == "Law"}
        # A law whose article is named needs no scan of its other articles.
        cited_laws = {_law_of(article) for article in articles}
        entities = [link.node_id for link in links if link.kind not in _STATUTE_KINDS]
        facts = (
            [
                self._statute_fact(row["id"], row["text"], row["source"], _ARTICLE_SCORE, day)
                for row in self.store.read(_ARTICLES, {"ids": articles})
            ]
            if articles
            else []
        )
        for law in sorted(linked_laws - cited_laws):
            facts += [
                self._statute_fact(article.id, article.text, article.source, 0.0, day)
                for article in law_articles(self.store, law)
            ]
        if entities:
            facts += self._triple_facts(entities)
        return facts

    def _statute_fact(self, node_id: str, text: str, source: str, score: float, day: date) -> Fact:
        """An article's fact with its version and status; the source says them where it matters (the
        law has several versions, or is not plainly in force) so the model reads them too."""
        table = self._laws_table()
        version = table.version(_law_of(node_id))
        if version is None:
            return Fact(node_id, text, source, score)
        status = status_on(version, day, self.today())
        if table.versioned(version.law_id) or status not in IN_FORCE:
            source = f"{source}（{version.version_date}版，{status}）"
        return Fact(node_id, text, source, score, version_date=version.version_date, status=status)

    def _triple_facts(self, entity_ids: list[str]) -> list[Fact]:
        outgoing: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        incoming: dict[tuple[str, str, str], list[str]] = defaultdict(list)
        for entity in entity_ids:
            params = {"id": entity, "structure": STRUCTURE}
            for row in self.store.read(_OUTGOING, params | {"limit": _OUT_LIMIT}):
                outgoing[(entity, row["src_name"], row["rel"])].append(row["dst_name"])
            for row in self.store.read(_INCOMING, params | {"limit": _IN_LIMIT}):
                incoming[(entity, row["dst_name"], row["rel"])].append(row["src_name"])
        facts = [
            Fact(f"{src}|{rel}", f"{name}{rel}：{'、'.join(sorted(set(objects)))}", "CMeKG", _OUT_SCORE)
            for (src, name, rel), objects in outgoing.items()
        ]
        facts += [
            Fact(
                f"{dst}|{rel}|in",
                f"{rel}包含{name}的：{'、'.join(sorted(set(subjects)))}",
                "CMeKG",
                _IN_SCORE,
            )
            for (dst, name, rel), subjects in incoming.items()
        ]
        return facts

    def _rank(self, question: str, facts: list[Fact]) -> list[Fact]:
        question_grams = char_ngrams(question, 2)
        cued = {rel for rel, cues in RELATION_CUES.items() if any(cue in question for cue in cues)}

        def score(fact: Fact) -> float:
            overlap = len(question_grams & char_ngrams(fact.text, 2)) / max(1, len(question_grams))
            relation = fact.id.split("|")[1] if "|" in fact.id else ""
            return fact.score + (_CUE_BONUS if relation in cued else 0.0) + overlap

        scored = [replace(fact, score=round(score(fact), 4)) for fact in facts]
        # Ties break on id so every engine, whatever order it returns rows in, gives the same facts.
        return sorted(scored, key=lambda fact: (-fact.score, fact.id))

    def _within_budget(self, facts: list[Fact]) -> list[Fact]:
        kept: list[Fact] = []
        left = self.budget_tokens
        for fact in facts:
            cost = len(fact.source) + len(fact.text)
            if not kept and cost > left:  # the best fact alone is too long: cut it rather than lose it
                cut = fact.text[: max(0, left - len(fact.source))]
                fact = replace(fact, text=cut)
                cost = left
            if cost <= left:  # a long fact is skipped; shorter ones further down may still fit
                kept.append(fact)
                left -= cost
            if len(kept) == self.max_facts:
                break
        return kept
