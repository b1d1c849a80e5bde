"""Freshness items: MCQs on the articles an amendment changed, with the superseded text as a distractor.

Built from the statute graph's version chains (kg_route.ingest.law_versions writes them; this reads
only node rows): an article of a new version with `previous_version` and `text_changed` gives a
changed item, one whose text stayed gives an unchanged item (did an update make a model forget?).
Each stem names the day the new version took effect, so the question asks for the law of that day.
Options are cut to `OPTION_CHARS`; an item whose change falls past the cut is left out, since no
option could show it. KG-derived, so reported apart from independent benchmarks.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from kgft.contract import Question
from kgft.graph_store import NodeRow

OPTION_CHARS = 100
LETTERS = "ABCD"


@dataclass(frozen=True)
class FreshnessItem:
    question: Question
    gold: str  # the letter of the text in force on the day the stem names
    stale: str | None  # the letter of the superseded text (changed items only)
    changed: bool
    article_id: str  # the new version's article
    previous_id: str  # the article it replaced
    law_name: str


@dataclass(frozen=True)
class Aligned:
    """A new version's article, the article it replaced, and what they say."""

    article: NodeRow
    previous: NodeRow
    law_name: str
    valid_from: date

    @property
    def changed(self) -> bool:
        """Reworded where an option shows it (within its first OPTION_CHARS characters)."""
        return _option(self.article.text) != _option(self.previous.text)

    @property
    def unchanged(self) -> bool:
        return json.loads(self.article.props).get("text_changed") is False


def aligned_articles(nodes: Iterable[NodeRow]) -> list[Aligned]:
    """Every article that succeeds another, with its predecessor, in id order."""
    by_id = {node.id: node for node in nodes}
    laws = {node.id: node.name for node in by_id.values() if node.kind == "Law"}
    aligned = []
    for node in sorted(by_id.values(), key=lambda node: node.id):
        props = json.loads(node.props)
        previous = by_id.get(props.get("previous_version") or "")
        if node.kind == "Article" and previous is not None and props.get("valid_from"):
            law = laws[f"law:{node.id.split(':')[1]}"]
            aligned.append(Aligned(node, previous, law, date.fromisoformat(props["valid_from"])))
    return aligned


def freshness_items(nodes: Sequence[NodeRow], changed: int, unchanged: int, seed: int) -> list[FreshnessItem]:
    """`changed` items on reworded articles and `unchanged` on identical ones, sampled with `seed`."""
    aligned = aligned_articles(nodes)
    rng = random.Random(seed)
    pool = [entry for entry in aligned if entry.changed]
    same = [entry for entry in aligned if entry.unchanged]
    picked = rng.sample(pool, min(changed, len(pool))) + rng.sample(same, min(unchanged, len(same)))
    siblings = _articles_by_law(nodes)
    return [_item(entry, siblings[entry.article.id.split(":")[1]], rng) for entry in picked]


def _articles_by_law(nodes: Iterable[NodeRow]) -> dict[str, list[NodeRow]]:
    found: dict[str, list[NodeRow]] = defaultdict(list)
    for node in nodes:
        if node.kind == "Article":
            found[node.id.split(":")[1]].append(node)
    return found


def _item(entry: Aligned, siblings: Sequence[NodeRow], rng: random.Random) -> FreshnessItem:
    gold_text, previous_text = _option(entry.article.text), _option(entry.previous.text)
    taken = {gold_text, previous_text}
    others = [text for text in sorted({_option(node.text) for node in siblings}) if text not in taken]
    distractors = rng.sample(others, 3 if not entry.changed else 2)
    texts = [gold_text, *([previous_text] if entry.changed else []), *distractors]
    rng.shuffle(texts)
    options = dict(zip(LETTERS, texts, strict=True))
    letter_of = {text: letter for letter, text in options.items()}
    number = json.loads(entry.article.props).get("number_zh", "")
    stem = article_question(entry.valid_from, entry.law_name, number)
    question = Question(id=f"fresh:{entry.article.id}", text=stem, domain="legal", options=options)
    return FreshnessItem(
        question,
        letter_of[gold_text],
        letter_of[previous_text] if entry.changed else None,
        entry.changed,
        entry.article.id,
        entry.previous.id,
        entry.law_name,
    )


def article_question(day: date, law_name: str, number_zh: str) -> str:
    """The stem, dated so a KG route reads the version in force that day; FT training data asks the same."""
    return f"{day.year}年{day.month}月{day.day}日起施行的《{law_name}》{number_zh}规定的内容是："


def _option(text: str) -> str:
    return "".join(text.split())[:OPTION_CHARS]
