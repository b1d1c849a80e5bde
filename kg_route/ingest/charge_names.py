"""The charges in force: the provisions' entries applied in date order, each charge with its 刑法 articles.

A later provision renames ("投放危险物质罪（取消投毒罪罪名）": the old name becomes an alias), removes
("取消嫖宿幼女罪罪名") and re-cites. One rename is implicit: 2002 gives 第127条
"盗窃、抢夺枪支、弹药、爆炸物、危险物质罪" without cancelling "盗窃、抢夺枪支、弹药、爆炸物罪"; a new name
at the same article that only extends an existing name's list of objects supersedes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kg_route.linking.numerals import zh_to_int
from kgft.sources.charges import Provision, ProvisionEntry
from kgft.sources.skipped_rows import SkippedRows

_NUMBER = r"\d+|[零〇一二三四五六七八九十百千]+"
_REF = re.compile(rf"第\s*({_NUMBER})\s*(条|款)(之[一二三四五六七八九十]+)?")
_BOOK = re.compile(r"《[^》]*》")
_BRACKETED = re.compile(r"（[^（）]*）")
_CANCELLED = re.compile(r"（?取消([^（）]*(?:（[^（）]*）[^（）]*)*)）?")
_OLD_CLAUSE = re.compile(r"^刑法原第[^条]+条(?:第[^项]+项)?")
# Names end in 罪; "间谍犯罪、恐怖主义犯罪…证据罪" lists objects inside one name, so 犯罪 ends none.
_NAME_END = re.compile(r"(?<=[^犯]罪)[\s、；;，,]+")
_REMOVED_SPLIT = re.compile(r"(?<=罪)(?:和|、)")


@dataclass(frozen=True)
class ArticleCite:
    """A 刑法 article a charge is defined by: its id key ("264", "120之一") and paragraphs (款), if named."""

    key: str
    paragraphs: tuple[int, ...] = ()


@dataclass
class ChargeDefinition:
    name: str
    articles: list[ArticleCite]
    aliases: list[str] = field(default_factory=list)
    defined_in: str = ""  # the entry (file:line) that last set its name or articles


def charges_in_force(provisions: list[Provision], skips: SkippedRows) -> dict[str, ChargeDefinition]:
    """name → definition after every provision, oldest first; unreadable entries are skipped and counted."""
    charges: dict[str, ChargeDefinition] = {}
    for provision in provisions:
        previous_articles = ""
        for entry in provision.entries:
            articles_text = entry.articles or previous_articles  # an empty cell continues the row above
            previous_articles = articles_text
            _apply(charges, ProvisionEntry(entry.where, articles_text, entry.names), skips)
    return charges


def _apply(charges: dict[str, ChargeDefinition], entry: ProvisionEntry, skips: SkippedRows) -> None:
    names, removed = split_names(entry.names)
    if not names and not removed:
        skips.skip(entry.where, f"no charge name in {entry.names!r}")
        return
    cites = article_groups(entry.articles, len(names))
    successors: dict[str, list[str]] = {}
    for old in removed:
        gone = charges.pop(old, None)
        if names:
            heir = max(names, key=lambda name: (_bigram_overlap(old, name), -names.index(name)))
            successors.setdefault(heir, []).extend([old, *(gone.aliases if gone else ())])
    for name, articles in zip(names, cites, strict=True):
        charge = charges.get(name) or _superseded(charges, name, articles)
        if charge is None:
            charge = charges[name] = ChargeDefinition(name, articles)
        elif charge.name != name:  # an implicit rename: the old name becomes an alias
            del charges[charge.name]
            charge.aliases.append(charge.name)
            charge.name = name
            charges[name] = charge
        if articles:
            charge.articles = articles
        charge.defined_in = entry.where
        for alias in successors.get(name, ()):
            if alias != name and alias not in charge.aliases:
                charge.aliases.append(alias)


def _superseded(
    charges: dict[str, ChargeDefinition], name: str, articles: list[ArticleCite]
) -> ChargeDefinition | None:
    keys = {cite.key for cite in articles}
    stem = name.removesuffix("罪")
    for charge in charges.values():
        old_stem = charge.name.removesuffix("罪")
        if stem.startswith(old_stem + "、") and keys & {cite.key for cite in charge.articles}:
            return charge
    return None


def split_names(cell: str) -> tuple[list[str], list[str]]:
    """("滥用职权罪、玩忽职守罪（取消国家机关工作人员徇私舞弊罪罪名）") → (given names, cancelled names)."""
    removed: list[str] = []
    for cancelled in _CANCELLED.finditer(cell):
        inner = _OLD_CLAUSE.sub("", cancelled.group(1).strip()).removesuffix("罪名").strip()
        removed += [_compact(part) for part in _REMOVED_SPLIT.split(inner) if part.strip()]
    rest = _CANCELLED.sub(" ", cell)
    names = [_compact(part) for part in _NAME_END.split(rest) if part.strip()]
    return [name for name in names if name.endswith("罪")], [name for name in removed if name.endswith("罪")]


def article_groups(cell: str, names: int) -> list[list[ArticleCite]]:
    """The articles for each of `names` names: "第229条第1款、第2款 第3款" with two names gives each its
    group; otherwise every name gets all of them. Articles of other acts (《决定》第1条) are not 刑法's."""
    text = _BRACKETED.sub("", _BOOK.sub("", cell)) if not cell.strip().startswith("《") else ""
    groups = [group for group in text.split() if _REF.search(group)]
    if names > 1 and len(groups) == names:
        parsed, current = [], None
        for group in groups:
            cites, current = _cites(group, current)
            parsed.append(cites)
        return parsed
    cites, _ = _cites(text, None)
    return [cites for _ in range(names)]


def _cites(text: str, current: str | None) -> tuple[list[ArticleCite], str | None]:
    """Articles in order, each with the paragraphs (第N款) after it; bare 款 continue `current`."""
    found: dict[str, list[int]] = {}
    for match in _REF.finditer(text):
        number, unit, sub = match.groups()
        value = int(number) if number[0].isdigit() else zh_to_int(number)
        if unit == "条":
            current = f"{value}{sub or ''}"
            found.setdefault(current, [])
        elif current is not None:
            found.setdefault(current, []).append(value)
    return [ArticleCite(key, tuple(paragraphs)) for key, paragraphs in found.items()], current


def _compact(text: str) -> str:
    return "".join(text.split())


def _bigram_overlap(a: str, b: str) -> int:
    return len({a[i : i + 2] for i in range(len(a) - 1)} & {b[i : i + 2] for i in range(len(b) - 1)})
