"""CAIL2018 cases → fact → charge/article SFT pairs: the precedents the KG route holds, in the weights.

The cases come through kgft.sources.cases and lose the same eval-overlapping cases the crime layer drops
(`clean_cases`), so the comparison is "cases in the graph" against "cases in the weights" on equal data.
`--source cases` names the shared data folder's legal/cases.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ft_route.data.sources import LoadedSource
from ft_route.records import DatasetError, SFTExample
from kgft.contamination import EvalStem
from kgft.sources import DEFAULT_DATA_ROOT, SourceError
from kgft.sources.cases import CaseRecord, case_files, clean_cases, read_cases

NAMED = {"cases": "legal/cases"}  # source names that mean a shared data folder
ASK = "以上案件事实中，被告人的行为构成什么罪？适用《中华人民共和国刑法》哪些条文？"


def named_source(path: Path, data_root: Path = DEFAULT_DATA_ROOT) -> Path:
    """`cases` (no such file here) → the shared data's legal/cases; any other path as given."""
    if not path.exists() and str(path) in NAMED:
        return data_root / NAMED[str(path)]
    return path


def is_case_source(path: Path) -> bool:
    """A folder of CAIL JSONL parts, or one file whose first row has a `fact` and a `meta`."""
    if path.is_dir():
        return any(path.glob("*.jsonl"))
    if path.suffix != ".jsonl" or not path.is_file():
        return False
    with path.open(encoding="utf-8") as handle:
        first = handle.readline()
    return '"fact"' in first and '"meta"' in first


def load_cases(
    path: Path, domain: str, stems: Sequence[EvalStem], eval_sets: Sequence[str]
) -> tuple[LoadedSource, list[str]]:
    """The clean cases as SFT pairs, and the ids of the cases dropped for repeating an eval question."""
    try:
        read = read_cases(case_files(path))
    except SourceError as exc:
        raise DatasetError(str(exc)) from exc
    clean = clean_cases(read.cases, stems, eval_sets)
    loaded = LoadedSource(path, [_example(case, domain) for case in clean.kept], rows_read=read.rows_read)
    loaded.skipped, loaded.skipped_where = read.skipped, read.skipped_where
    return loaded, clean.report.contaminated_ids


def answer(case: CaseRecord) -> str:
    """The form the KG route's open answer takes: "罪名：盗窃罪\n法条：刑法第264条"."""
    articles = "、".join(f"刑法第{number}条" for number in case.articles) or "（案例未列）"
    return f"罪名：{'、'.join(case.charges)}\n法条：{articles}"


def _example(case: CaseRecord, domain: str) -> SFTExample:
    return SFTExample(
        case.id, f"{case.fact}\n{ASK}", answer(case), domain, case.charges[0], f"CAIL2018 {case.where}"
    )
