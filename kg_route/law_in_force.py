"""Which version of a law was in force on a day, and how a citation states it.

A law's versions hold `valid_from` / `valid_to` (set at ingest, kg_route.ingest.law_versions); the version
in force on a day is the latest one that had started by then. Before the first version started, the
first is the answer, stated as not yet in force. Repealed laws (已废止) carry no repeal date in the
data, so they stay the answer for their name and every citation of them says 已废止.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from kgft.graph_facts import CURRENT_STATUS
from kgft.graph_store import NodeRow

REPEALED = "已废止"
# In force, with later amendments the data holds as laws of their own (刑法 2020, amended by 修正案（十二）).
AMENDED = "已被修改"
IN_FORCE = frozenset({CURRENT_STATUS, AMENDED})


@dataclass(frozen=True)
class Version:
    law_id: str  # the Law node id
    name: str
    valid_from: date | None
    valid_to: date | None
    version_date: str | None
    status: str | None  # as the data states it (现行有效, 历史版本, 已废止, 已被修改)


class LawsInForce:
    """The versions of every law by name, from the graph's Law nodes."""

    def __init__(self, law_nodes: Iterable[NodeRow]):
        self._by_id: dict[str, Version] = {}
        by_name: dict[str, list[Version]] = defaultdict(list)
        for node in law_nodes:
            props = json.loads(node.props)
            version = Version(
                node.id,
                node.name,
                _day(props.get("valid_from")),
                _day(props.get("valid_to")),
                props.get("version_date"),
                props.get("status"),
            )
            self._by_id[node.id] = version
            by_name[node.name].append(version)
        self._versions = {
            name: sorted(versions, key=lambda v: (v.valid_from or date.min, v.law_id))
            for name, versions in by_name.items()
        }

    def on(self, law_id: str, day: date) -> Version | None:
        """The version of `law_id`'s law in force on `day` (None for a law the graph does not hold)."""
        known = self._by_id.get(law_id)
        if known is None:
            return None
        versions = self._versions[known.name]
        started = [version for version in versions if version.valid_from is None or version.valid_from <= day]
        return started[-1] if started else versions[0]

    def versioned(self, law_id: str) -> bool:
        """Whether the law has more than one version, so a citation must say which it quotes."""
        known = self._by_id.get(law_id)
        return known is not None and len(self._versions[known.name]) > 1

    def version(self, law_id: str) -> Version | None:
        return self._by_id.get(law_id)


def status_on(version: Version, day: date, today: date) -> str:
    """The version's status on `day` in words a citation can carry."""
    if version.status == REPEALED:
        return REPEALED
    if version.valid_from is not None and day < version.valid_from:
        return f"尚未施行，{version.valid_from.isoformat()}起施行"
    if version.valid_to is not None and day >= version.valid_to:
        return f"已被{version.valid_to.isoformat()}起施行的版本取代"
    if day == today:
        return CURRENT_STATUS if version.status in (None, CURRENT_STATUS, "历史版本") else version.status
    return f"{day.isoformat()}时有效"


def _day(text: object) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None
