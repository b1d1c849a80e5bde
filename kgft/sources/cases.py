"""CAIL2018 criminal cases (JSON lines: `fact`, `meta.accusation`, `meta.relevant_articles`) as typed records.

The KG route's precedent layer and the FT route's fact → charge pairs both read cases here, and both
drop the same eval-overlapping cases (`clean_cases`), so "cases in the graph" and "cases in the
weights" are the same cases.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kgft.comparable_text import normalize
from kgft.contamination import ContaminationReport, EvalStem, find_overlaps
from kgft.sources import SourceError
from kgft.sources.rows import read_rows
from kgft.sources.skipped_rows import SkippedRows


@dataclass(frozen=True)
class CaseRecord:
    id: str  # "case:" + 16 hex digits of the normalised fact's sha256: stable across files and runs
    fact: str
    charges: tuple[str, ...]  # CAIL labels as charge names: "[窝藏、包庇]" → "窝藏、包庇罪"
    articles: tuple[int, ...]  # 刑法 article numbers, distinct, ascending
    where: str  # "cail2018_cases.part1.jsonl:12"


@dataclass
class CaseRead(SkippedRows):
    cases: list[CaseRecord]
    rows_read: int = 0


@dataclass(frozen=True)
class CleanCases:
    """The cases no eval stem overlaps, and the report that names the ones dropped."""

    kept: list[CaseRecord]
    report: ContaminationReport


def case_files(source: Path) -> list[Path]:
    """One .jsonl file, or a folder's *.jsonl parts in name order."""
    if not source.exists():
        raise SourceError(f"cases source {source} does not exist")
    files = [source] if source.is_file() else sorted(source.glob("*.jsonl"))
    if not files:
        raise SourceError(f"{source} holds no *.jsonl case files")
    return files


def charge_label(cail: str) -> str:
    """CAIL's bracketed label as the provisions write the name: "[走私、贩卖、运输、制造]毒品" → "走私、贩卖、
    运输、制造毒品罪"; CAIL spells 账簿 as 帐簿."""
    name = "".join(cail.replace("[", "").replace("]", "").split()).replace("帐", "账")
    return name if name.endswith("罪") else f"{name}罪"


def read_cases(files: Sequence[Path]) -> CaseRead:
    """Every well-formed case; a row without a fact or a charge is skipped with its file and line, and a
    fact seen before (after normalisation) is skipped as a duplicate."""
    read = CaseRead([])
    seen: set[str] = set()
    for path in files:
        for row in read_rows(path):
            read.rows_read += 1
            where = f"{path.name}:{row.line}"
            if row.problem is not None:
                read.skip(where, row.problem)
                continue
            case = _case(row.fields, where)
            if isinstance(case, str):
                read.skip(where, case)
            elif case.id in seen:
                read.skip(where, "the same fact as an earlier case")
            else:
                seen.add(case.id)
                read.cases.append(case)
    return read


def clean_cases(
    cases: Sequence[CaseRecord], stems: Sequence[EvalStem], eval_sets: Sequence[str]
) -> CleanCases:
    """Drop every case whose fact overlaps an eval stem (kgft.contamination's rule), whatever the
    share: a case source is expected to overlap (LexEval 3_1 was cut from CAIL2018), so it is cleaned,
    not refused."""
    report = find_overlaps([(case.id, case.fact) for case in cases], stems, eval_sets)
    dropped = set(report.contaminated_ids)
    return CleanCases([case for case in cases if case.id not in dropped], report)


def _case(fields: dict[str, Any], where: str) -> CaseRecord | str:
    fact, meta = fields.get("fact"), fields.get("meta")
    if not isinstance(fact, str) or not fact.strip():
        return "no fact text"
    if not isinstance(meta, dict):
        return "no meta object"
    accusation, articles = meta.get("accusation"), meta.get("relevant_articles", [])
    if not isinstance(accusation, list) or not accusation or not all(isinstance(a, str) for a in accusation):
        return "meta.accusation is not a non-empty list of charge names"
    if not isinstance(articles, list) or not all(isinstance(a, int) and a > 0 for a in articles):
        return "meta.relevant_articles is not a list of article numbers"
    digest = hashlib.sha256(normalize(fact).encode()).hexdigest()[:16]
    charges = tuple(dict.fromkeys(charge_label(label) for label in accusation))
    return CaseRecord(f"case:{digest}", fact.strip(), charges, tuple(sorted(set(articles))), where)
