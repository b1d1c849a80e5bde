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
from collections.abc import Sequence
from dataclasses import dataclass, field

from kg_route.charges.facts import ChargeFacts, charge_facts, charge_links
from kg_route.charges.index import ChargeRanking
from kg_route.facts import Fact
from kg_route.linking import EntityLinker, Link
from kg_route.linking.question_focus import question_focus
from kg_route.readers import char_ngrams
from kgft.graph_store import GraphStore

STRUCTURE = ["HAS_CHAPTER", "HAS_SECTION", "HAS_ARTICLE"]
# Lookups go through `{id: $id}` so engines use the primary-key index; `WHERE n.id IN $ids` scans
# every node on Ladybug (13 ms vs 0.03 ms), and UNWIND over ids before an edge pattern is slower still.
_ARTICLES = "UNWIND $ids AS i MATCH (a:Node {id: i}) RETURN a.id AS id, a.text AS text, a.source AS source"
_LAW_ARTICLES = (
    "MATCH (l:Node {id: $law})-[:REL*1..3]->(a:Node) WHERE a.kind = 'Article' "
    "RETURN a.id AS id, a.text AS text, a.source AS source"
)
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
    ):
        self.store = store
        self.linker = linker
        self.budget_tokens = budget_tokens
        self.max_facts = max_facts
        self.charges = charges or ChargeFacts(store)

    def retrieve(self, question: str) -> Retrieval:
        started = time.perf_counter()
        focus = question_focus(question)
        links = self.linker.link(focus.text)
        facts = self._rank(focus.text, self._candidates(focus.text, links)) if links else []
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

    def _candidates(self, question: str, links: Sequence[Link]) -> list[Fact]:
        articles = [link.node_id for link in links if link.kind == "Article"]
        linked_laws = {link.node_id for link in links if link.kind == "Law"}
        # A law whose article is named needs no scan of its other articles.
        cited_laws = {f"law:{article.split(':')[1]}" for article in articles}
        entities = [link.node_id for link in links if link.kind not in {"Article", "Law"}]
        facts = (
            [
                Fact(row["id"], row["text"], row["source"], _ARTICLE_SCORE)
                for row in self.store.read(_ARTICLES, {"ids": articles})
            ]
            if articles
            else []
        )
        for law in sorted(linked_laws - cited_laws):
            facts += [
                Fact(row["id"], row["text"], row["source"])
                for row in self.store.read(_LAW_ARTICLES, {"law": law})
            ]
        if entities:
            facts += self._triple_facts(entities)
        return facts

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

        scored = [Fact(fact.id, fact.text, fact.source, round(score(fact), 4)) for fact in facts]
        # Ties break on id so every engine, whatever order it returns rows in, gives the same facts.
        return sorted(scored, key=lambda fact: (-fact.score, fact.id))

    def _within_budget(self, facts: list[Fact]) -> list[Fact]:
        kept: list[Fact] = []
        left = self.budget_tokens
        for fact in facts:
            cost = len(fact.source) + len(fact.text)
            if not kept and cost > left:  # the best fact alone is too long: cut it rather than lose it
                cut = fact.text[: max(0, left - len(fact.source))]
                fact = Fact(fact.id, cut, fact.source, fact.score, names=fact.names)
                cost = left
            if cost <= left:  # a long fact is skipped; shorter ones further down may still fit
                kept.append(fact)
                left -= cost
            if len(kept) == self.max_facts:
                break
        return kept
