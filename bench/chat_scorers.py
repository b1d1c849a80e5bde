"""The benchmarks' own answer extraction, applied to a chat reply: what a judge's scorer would read.

Each function ports the rule the benchmark's published evaluation code applies to a model's text, so a
reply the gateway formats is scored as the benchmark scores it, not as kgft's own eval does:

* LexEval (CSHaitao/LexEval code/evaluation/process.py `find_valid_substrings`, evaluate.py
  `eval_accuracy`): cut the reply at 解析/分析, drop list punctuation, keep the runs of A–E without a
  repeated letter, join them, de-duplicate in order of appearance; correct when that string equals the
  gold string (so "DA" against gold "AD" is wrong, as it is upstream).
* PubMedQA (pubmedqa/pubmedqa evaluation.py): accuracy of the label yes/no/maybe; the repo scores labels,
  so a generated reply is read as the first of those words it contains.
* BiomixQA (BaranziniLab/KG_RAG analysis notebooks): MCQ takes the value after `"answer":` (or the
  reply's first line) and compares it with the correct option's text; true/false finds every True, False
  or Don't know, and a reply whose first two disagree counts as no answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_LEXEVAL_DROPPED = ("、", ".", ",", ";", "，", "和", ", ")
_LEXEVAL_RUN = re.compile(r"[ABCDE]{1,5}")
_PUBMEDQA_LABEL = re.compile(r"\b(yes|no|maybe)\b", re.IGNORECASE)
_TRUE_FALSE = re.compile(r"(True|False|Don't know)")


def lexeval_letters(reply: str) -> str:
    """The option letters LexEval's scorer reads from a reply, in order of appearance ("" for none)."""
    text = reply.split("解析")[0].split("分析")[0]
    for mark in _LEXEVAL_DROPPED:
        text = text.replace(mark, "")
    runs = [run for run in _LEXEVAL_RUN.findall(text) if len(run) == len(set(run))]
    return "".join(dict.fromkeys("".join(runs)))


def pubmedqa_label(reply: str) -> str | None:
    """yes, no or maybe: the first of them the reply says, lower-cased; None when it says none."""
    match = _PUBMEDQA_LABEL.search(reply)
    return match.group(1).lower() if match else None


def biomix_mcq_answer(reply: str) -> str:
    """KG_RAG's `extract_answer`: the quoted value after the last `"answer":`, else that line unquoted.

    A reply without `"answer":` yields its first line, so a bare "HLA-B" still counts.
    """
    line = reply.split('"answer":')[-1].split("\n")[0].strip()
    quoted = line.split('"')
    return quoted[1].strip() if len(quoted) > 1 else line


def biomix_true_false(reply: str) -> str | None:
    """The verdict "True" or "False" as KG_RAG reads it; None for none, "Don't know", or two that differ."""
    found = _TRUE_FALSE.findall(reply)
    if not found or (len(found) > 1 and found[0] != found[1]):
        return None
    return found[0] if found[0] in ("True", "False") else None


# set kind -> (what the benchmark's scorer extracts from a reply, or None/"" for nothing)
Extractor = Callable[[str], str | None]
EXTRACTORS: dict[str, Extractor] = {
    "lexeval": lexeval_letters,
    "pubmedqa": pubmedqa_label,
    "biomixqa-mcq": biomix_mcq_answer,
    "biomixqa-tf": biomix_true_false,
}


def extract(kind: str, reply: str) -> str | None:
    """The scorer's reading of `reply` for a set of this kind; None when it finds no answer."""
    return EXTRACTORS[kind](reply) or None


def is_correct(kind: str, reply: str, gold: str) -> bool:
    """Exact match of the extracted answer with the gold, as each benchmark's scorer compares them."""
    return extract(kind, reply) == gold
