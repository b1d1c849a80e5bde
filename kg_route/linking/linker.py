"""Question → graph nodes without an LLM: dictionary names, then "law + 第X条" article references.

Built from plain data (names and an article table) so it does not depend on the graph store and
links a question in microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from kg_route.linking.matcher import Match, NameMatcher, normalize
from kg_route.linking.numerals import ArticleRef, find_article_refs, int_to_zh

ArticleKey = int | str  # 232, or "17之一" for an article an amendment inserted after 第十七条
MAX_GAP_CHARS = 6  # "《刑法》中的第232条": a law and its "第X条" sit a few characters apart at most

# What may stand between a law mention (or a linked article) and the next "第X条" for the article to
# belong to that law: brackets, punctuation, "的/中" and list words ("刑法第232条、第233条"). Anything
# else ("民法通则第85条", "…规定…第3条") breaks the link.
_ARTICLE_GAP = re.compile(
    r"[\s《》〈〉<>\"'“”‘’「」『』()\[\]:,、;]*"
    r"(?:的|中|中的|里|里的|规定的|和|及|以及|与|或|或者|至|到|-|~|—)?"
    r"[\s《》〈〉<>\"'“”‘’「」『』()\[\]:,、;]*"
)


@dataclass(frozen=True)
class NameEntry:
    """A node and the names it answers to; on a shared name the higher `rank` wins (ties drop the name)."""

    node_id: str
    kind: str
    name: str
    aliases: tuple[str, ...] = ()
    rank: int = 0


@dataclass(frozen=True)
class Link:
    """One linked node; `start:end` is its mention in the question as given (all of it for "embedding")."""

    node_id: str
    kind: str
    name: str
    start: int
    end: int
    how: str  # "name" | "article" | "embedding"
    score: float


class EntityLinker:
    """Links names by exact (normalised) match and articles by law mention + nearby "第X条".

    A bare "第232条" with no law mention just before it links nothing: every law has an article 232,
    and guessing the law would put a wrong statute in front of the model. When nothing links and a
    `fallback` is given (e.g. `EmbeddingIndex.nearest`), its links are returned instead.
    """

    def __init__(
        self,
        entries: Iterable[NameEntry],
        articles: Mapping[tuple[str, ArticleKey], str],
        *,
        fallback: Callable[[str], list[Link]] | None = None,
    ) -> None:
        self._articles = articles
        self._fallback = fallback
        self._matcher: NameMatcher[NameEntry] = NameMatcher(_unambiguous_keys(entries))

    @property
    def key_count(self) -> int:
        """How many distinct names the linker matches, after dropping short, generic and ambiguous ones."""
        return self._matcher.size

    def link(self, question: str) -> list[Link]:
        """Links in order of mention, one per node (its first mention)."""
        text, origin = normalize(question)
        names = self._matcher.find(text)
        refs = [ref for ref in find_article_refs(text) if not _inside_any(ref, names)]
        # an article reference beats a medical name overlapping it ("第一" ...)
        names = [name for name in names if name.value.kind == "Law" or not _overlaps_any(name, refs)]

        found: list[Link] = []
        anchor: NameEntry | None = None
        anchor_end = 0
        mentions: list[Match[NameEntry] | ArticleRef] = [*names, *refs]
        for item in sorted(mentions, key=lambda mention: mention.start):
            if isinstance(item, Match):
                entry = item.value
                found.append(_at(origin, item.start, item.end, entry.node_id, entry.kind, entry.name, "name"))
                anchor, anchor_end = (entry, item.end) if entry.kind == "Law" else (None, 0)
                continue
            if anchor is None or not _within_reach(text, anchor_end, item.start):
                anchor = None
                continue
            article = self._article_link(anchor, item, origin)
            if article is not None:
                found.append(article)
            anchor_end = item.end

        if not found and self._fallback is not None:
            return self._fallback(question)
        first_per_node = {link.node_id: link for link in reversed(found)}
        return sorted(first_per_node.values(), key=lambda link: (link.start, link.how != "name"))

    def _article_link(self, law: NameEntry, ref: ArticleRef, origin: Sequence[int]) -> Link | None:
        label = int_to_zh(ref.number) + "条" + (f"之{int_to_zh(ref.sub)}" if ref.sub else "")
        key: ArticleKey = f"{ref.number}之{int_to_zh(ref.sub)}" if ref.sub else ref.number
        article_id = self._articles.get((law.node_id, key))
        if article_id is None:
            return None
        return _at(origin, ref.start, ref.end, article_id, "Article", f"{law.name}第{label}", "article")


def _unambiguous_keys(entries: Iterable[NameEntry]) -> dict[str, NameEntry]:
    """Each normalised name → its one node: names beat aliases, then rank; a remaining tie is dropped."""
    best: dict[str, tuple[tuple[bool, int], dict[str, NameEntry]]] = {}
    for entry in entries:
        for key, is_name in ((entry.name, True), *((alias, False) for alias in entry.aliases)):
            folded = normalize(key)[0]
            priority = (is_name, entry.rank)
            held = best.get(folded)
            if held is None or priority > held[0]:
                best[folded] = (priority, {entry.node_id: entry})
            elif priority == held[0]:
                held[1].setdefault(entry.node_id, entry)
    return {key: next(iter(nodes.values())) for key, (_, nodes) in best.items() if len(nodes) == 1}


def _at(origin: Sequence[int], start: int, end: int, node_id: str, kind: str, name: str, how: str) -> Link:
    """An exact link (score 1) whose span is mapped from normalised-text indexes to the question as given."""
    return Link(node_id, kind, name, origin[start], origin[end - 1] + 1, how, 1.0)


def _within_reach(text: str, end: int, start: int) -> bool:
    """Whether a "第X条" starting at `start` still belongs to the law (or article) ending at `end`."""
    return start - end <= MAX_GAP_CHARS and _ARTICLE_GAP.fullmatch(text, end, start) is not None


def _inside_any(ref: ArticleRef, names: list[Match[NameEntry]]) -> bool:
    """A law name can hold a reference ("关于《中华人民共和国刑法》第二百六十六条的解释"); it owns it."""
    return any(name.value.kind == "Law" and name.start <= ref.start and ref.end <= name.end for name in names)


def _overlaps_any(name: Match[NameEntry], refs: list[ArticleRef]) -> bool:
    return any(name.start < ref.end and ref.start < name.end for ref in refs)
