"""The names a user calls a law by: full name, the name without "中华人民共和国", and a few known short forms.

Collisions, decided here so the linker never picks arbitrarily: the statute data holds 11 laws twice
under one full name (an old version and the current one, e.g. 商标法 2019 历史版本 and 2026 现行有效).
Every version stays a node, but only the preferred version answers to the shared name and its short
form: the one with status 现行有效, then the latest version_date. The other versions get rank 0 and so
never win a name they share (see `EntityLinker`). A law alone under its name keeps it whatever its status
(刑法 is 已被修改). Names with a year or 修正案 are unique and kept as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import groupby
from typing import NamedTuple

from kg_route.linking.linker import NameEntry
from kgft.graph_facts import CURRENT_STATUS, PRC_PREFIX

# Short forms people and benchmarks use that are not the name minus the prefix. LexEval 1_2 asks about
# "中华人民共和国民法第X条", meaning the Civil Code. "民法" alone also starts "民法通则" (repealed, not in
# the data): the linker only links an article across a gap of punctuation or 的/中, so "民法通则第85条"
# links the Civil Code as a law but never its article 85.
EXTRA_ALIASES: Mapping[str, tuple[str, ...]] = {
    "中华人民共和国民法典": ("中华人民共和国民法", "民法"),
}


class LawVersion(NamedTuple):
    """One law node as aliasing needs it: status and version_date pick the version a shared name means."""

    node_id: str
    name: str
    status: str | None
    version_date: str | None


def law_aliases(law_name: str) -> tuple[str, ...]:
    """Every alias of one law name besides the name itself, most specific first."""
    aliases: list[str] = []
    if law_name.startswith(PRC_PREFIX) and len(law_name) > len(PRC_PREFIX):
        aliases.append(law_name.removeprefix(PRC_PREFIX))
    aliases.extend(EXTRA_ALIASES.get(law_name, ()))
    return tuple(dict.fromkeys(alias for alias in aliases if alias != law_name))


def law_entries(laws: Iterable[LawVersion]) -> list[NameEntry]:
    """Name entries for every law version; rank 1 marks the one version each shared name goes to."""

    def preference(law: LawVersion) -> tuple[bool, str]:
        return law.status == CURRENT_STATUS, law.version_date or ""

    entries = []
    for name, versions in groupby(sorted(laws, key=lambda law: law.name), key=lambda law: law.name):
        ordered = sorted(versions, key=preference, reverse=True)
        aliases = law_aliases(name)
        for position, law in enumerate(ordered):
            entries.append(NameEntry(law.node_id, "Law", name, aliases, rank=1 if position == 0 else 0))
    return entries
