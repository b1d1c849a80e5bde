"""The official charge-name provisions (罪名规定) as Markdown: each entry an article cell and a names cell.

The 1997 opinion lists "背叛国家罪（第102条）" items in running text; the supplementary provisions hold
Markdown tables (刑法条文 | 罪名), and the 2024 one a single sentence ("将…第一百六十九条…的罪名由“X”修改为
“Y”"). All three come out as the same `ProvisionEntry`, in the provisions' date order (taken from the
file name), so the provision that came later is applied later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from kgft.sources import SourceError

_DATE = re.compile(r"\((\d{4}-\d{2}-\d{2})\)\.md$")
# "12．资敌罪（第112条）", and "放火罪（第114条、第115条第1款）" where the source dropped the number.
_LISTED = re.compile(r"(?:\d+\s*[．.])?\s*([^\s（）．]+?罪)（(第[^）]*条[^）]*)）")
_TABLE_ROW = re.compile(r"^\|(?P<articles>[^|]*)\|(?P<names>[^|]*)\|\s*$")
_RENAMED = re.compile(
    r"将[^，。]*?(第[^（”“]+?条(?:之[一二三四五六七八九十]+)?)[^，。]*?由“([^”]+)”修改为“([^”]+)”"
)
_HEADER_CELLS = frozenset({"刑法条文", "罪名"})


@dataclass(frozen=True)
class ProvisionEntry:
    """One charge line: where it is, the articles it cites (raw) and the names it gives or removes (raw)."""

    where: str  # "file.md:12"
    articles: str  # "第114条、第115条第1款（《修正案（三）》第1、2条）"; "" means the row above's
    names: str  # "投放危险物质罪（取消投毒罪罪名）"


@dataclass(frozen=True)
class Provision:
    date: str  # ISO, from the file name
    name: str  # the file name
    entries: tuple[ProvisionEntry, ...]


def read_provisions(folder: Path) -> list[Provision]:
    """Every `*(YYYY-MM-DD).md` provision in `folder`, oldest first."""
    if not folder.is_dir():
        raise SourceError(f"charge provisions folder {folder} does not exist")
    provisions = []
    for path in folder.glob("*.md"):
        dated = _DATE.search(path.name)
        if dated is None:
            continue  # README.md and other notes
        try:
            text = path.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SourceError(f"cannot read {path}: {exc}") from exc
        provisions.append(Provision(dated.group(1), path.name, tuple(_entries(path.name, text))))
    if not provisions:
        raise SourceError(f"{folder} holds no dated provision files (name ending in (YYYY-MM-DD).md)")
    return sorted(provisions, key=lambda provision: (provision.date, provision.name))


def _entries(name: str, text: str) -> list[ProvisionEntry]:
    entries: list[ProvisionEntry] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{name}:{number}"
        row = _TABLE_ROW.match(line.strip())
        if row:
            articles, names = row.group("articles").strip(), row.group("names").strip()
            if names and names not in _HEADER_CELLS and not set(names) <= set("-"):
                entries.append(ProvisionEntry(where, articles, names))
            continue
        for listed in _LISTED.finditer(line):
            entries.append(ProvisionEntry(where, listed.group(2), listed.group(1)))
        for renamed in _RENAMED.finditer(line):
            article, old, new = renamed.groups()
            entries.append(ProvisionEntry(where, article, f"{new}（取消{old}罪名）"))
    return entries
