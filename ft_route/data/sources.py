"""Instruction files → SFTExamples: Lawyer-LLaMA (JSON lists), BenTsao and any instruction JSONL.

The rows come from `kgft.sources.rows`; one mapping serves every file by field names: the prompt is
`query`, `question`, `prompt` or `instruction` (+ `input`), the response `response`, `output` or
`answer`. A malformed row is skipped and reported with its file and line; a file whose rows never
match is a schema error, not a skip.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_route.records import DatasetError, SFTExample
from kgft.sources import DEFAULT_DATA_ROOT, SourceError
from kgft.sources.rows import read_rows
from kgft.sources.skipped_rows import SkippedRows

DEFAULT_SOURCES = {
    "legal": (
        "legal/train/lawyer-llama/legal_counsel_with_article_v2.json",
        "legal/train/lawyer-llama/zixun_gpt4.json",
    ),
    "medical": ("medical/train/bentsao/llama_data.json",),
}
# JEC-QA exam questions with model explanations: the public legal exam benchmarks share them.
EXAM_DERIVED_FILES = frozenset({"fakao_gpt4.json", "judical_examination.json"})
PROMPT_FIELDS = ("query", "question", "prompt", "instruction", "input")
RESPONSE_FIELDS = ("response", "output", "answer")
_NUMERAL = "[零〇一二三四五六七八九十百千]"
_CITED_ARTICLE = re.compile(rf"《([^》]+)》\s*(第{_NUMERAL}+条(?:之{_NUMERAL}+)?)")


@dataclass
class LoadedSource(SkippedRows):
    path: Path
    examples: list[SFTExample]
    rows_read: int = 0


def default_sources(domain: str, data_root: Path = DEFAULT_DATA_ROOT) -> list[Path]:
    if domain not in DEFAULT_SOURCES:
        raise DatasetError(f"unknown domain '{domain}': use one of {sorted(DEFAULT_SOURCES)}")
    return [data_root / relative for relative in DEFAULT_SOURCES[domain]]


def load_source(path: Path, domain: str, *, allow_exam_derived: bool = False) -> LoadedSource:
    """Every row of one file that has a prompt and a response, as an SFTExample with a stable id."""
    if not path.is_file():
        raise DatasetError(f"training source not found: {path}")
    if path.name in EXAM_DERIVED_FILES and not allow_exam_derived:
        raise DatasetError(
            f"{path} comes from JEC-QA exam questions, which exam-style evaluation sets share; "
            "allow it explicitly (allow_exam_derived / --allow-exam-sources) only without exam-style evals"
        )
    try:
        rows = list(read_rows(path))
    except SourceError as exc:
        raise DatasetError(str(exc)) from exc
    label = f"{path.parent.name}/{path.name}"
    loaded = LoadedSource(path, [])
    for row in rows:
        loaded.rows_read += 1
        where = f"{label}:{row.line}"  # the line a row starts on, also in a JSON list
        if row.problem is not None:
            loaded.skip(where, row.problem)
            continue
        fields = row.fields
        prompt, response = _prompt(fields), _first_text(fields, RESPONSE_FIELDS)
        if not prompt or not response:
            loaded.skip(where, f"no prompt or response among fields {sorted(fields)}")
            continue
        category = _category(fields) or path.parent.name
        loaded.examples.append(SFTExample(where, prompt, response, domain, category, where))
    if loaded.rows_read and not loaded.examples:
        raise DatasetError(
            f"{path}: no row has a prompt ({'/'.join(PROMPT_FIELDS)}) and a response "
            f"({'/'.join(RESPONSE_FIELDS)}); first problem: {loaded.skipped_where[0]}"
        )
    return loaded


def _prompt(row: dict[str, Any]) -> str:
    """instruction + input when both are there (Alpaca style), otherwise the first prompt field."""
    instruction, extra = _text(row.get("instruction")), _text(row.get("input"))
    if instruction and extra:
        return f"{instruction}\n{extra}"
    return _first_text(row, PROMPT_FIELDS)


def _first_text(row: dict[str, Any], names: tuple[str, ...]) -> str:
    return next((text for text in (_text(row.get(name)) for name in names) if text), "")


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _category(row: dict[str, Any]) -> str:
    """An explicit category, else the first cited article (Lawyer-LLaMA cites 168 distinct ones)."""
    if _text(row.get("category")):
        return _text(row.get("category"))
    laws = row.get("laws")
    if isinstance(laws, list) and laws and isinstance(laws[0], str):
        cited = _CITED_ARTICLE.match(laws[0].strip())
        if cited:
            return cited.group(1) + cited.group(2)
    return ""
