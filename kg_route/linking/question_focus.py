"""The part of a prompt the linker should read: instruction boilerplate's format examples taken out.

Benchmark prompts carry format examples ("…填在[法条]与<eoa>之间。例如[法条]刑法第128条、刑法第341条<eoa>")
whose articles would otherwise be linked instead of the case's. Only instruction text is touched:

- an example (例如/比如/譬如/如：/e.g./for example … to the sentence end) is removed when its sentence
  holds an instruction cue (请你/请将…, 答案, 回答, 写在, 填在, 选出, 只需, 格式为…, answer/format…), when it
  opens the sentence right after an instruction sentence, or when it holds a template placeholder;
- template syntax anywhere: "<eoa>" and "[法条]…<eoa>" fills; in instruction sentences also bracket tags
  ("[正确答案]") and article placeholders ("《某法》第X条", "刑法第N条", "第某条");
- a trailing "答案：" / "Answer:".

A "例如" in a case fact (no cue in its sentence, none just before it) stays, and so does the question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# 请 only as the polite imperative: 申请, 提请, 请求, 聘请 … are everyday words in case facts.
_CUES_ZH = (
    r"请(?:你|您|将|把|根据|依据|结合|回答|问|选|阅读|判断|写|填|给出|输出|按|严格|直接|只|用|分析|背诵|默写|列出|指出|从|以)"
    r"|答案|作答|回答|写在|填在|选出|选择题|只需|不要解释"
    r"|这个格式|该格式|以下格式|如下格式|格式为|格式如下|按格式|格式回答|格式作答|输出格式"
)
_CUES_EN = r"\b(?:answer|respond|reply|format|output|choose|select|instructions?)\b"
_CUE = re.compile(f"{_CUES_ZH}|{_CUES_EN}", re.IGNORECASE)
_EXAMPLE = re.compile(
    r"例如|比如|譬如|举例|示例|如[:：]|\be\.g\.|\bfor (?:example|instance)\b|\bexample:", re.I
)
# Sentence ends; an English "." only before a space or the end, and not the one inside "e.g."/"i.e.".
_SENTENCE_END = re.compile(r"[。！？!?；;\n]|(?<!e\.g)(?<!i\.e)\.(?=\s|$)")
_EOA_FILL = re.compile(r"(?:\[[^\[\]\n]{1,12}\]|【[^【】\n]{1,12}】)[^\n<]{0,80}?<eoa>|<eoa>", re.IGNORECASE)
_TAG = re.compile(r"\[[^\[\]\n]{1,12}\]|【[^【】\n]{1,12}】")
# "第X条" with X, N, 某 or ×, and the law name just before it: a 《title》 or a run of name characters
# that stops at 的/为/是/以/按/照/如 ("格式为刑法第X条" loses "刑法第X条", not "格式为").
_ARTICLE_PLACEHOLDER = re.compile(
    r"(?:《[^《》\n]{1,40}》|[^\W\d_第条的为是以按照如]*法)?第\s*[XxNn某×*＊]{1,3}\s*条"
)
_ANSWER_TAIL = re.compile(r"(?:答案|回答|answer)\s*[:：]\s*$", re.IGNORECASE)
_OPENERS = " \t\u3000，,：:、\"'“”‘’「」"


@dataclass(frozen=True)
class Focus:
    """`text` is what linking and retrieval read; `stripped` the pieces taken out, in order."""

    text: str
    stripped: tuple[str, ...] = ()


def question_focus(text: str) -> Focus:
    spans: list[tuple[int, int]] = [match.span() for match in _EOA_FILL.finditer(text)]
    previous_is_instruction = False
    for start, end in _sentences(text):
        sentence = text[start:end]
        instruction = _CUE.search(sentence) is not None
        example = _EXAMPLE.search(sentence)
        if example is not None:
            opens = not sentence[: example.start()].strip(_OPENERS)
            tail = (start + example.start(), end)
            if instruction or (opens and previous_is_instruction) or _EOA_FILL.search(text, *tail):
                spans.append(tail)
        if instruction:
            spans += [(start + m.start(), start + m.end()) for m in _TAG.finditer(sentence)]
            spans += [(start + m.start(), start + m.end()) for m in _ARTICLE_PLACEHOLDER.finditer(sentence)]
        if sentence.strip():
            previous_is_instruction = instruction
    if tail_match := _ANSWER_TAIL.search(text):
        spans.append(tail_match.span())
    merged = _merge(spans)
    if not merged:
        return Focus(text)
    kept, cursor = [], 0
    for start, end in merged:
        kept.append(text[cursor:start])
        cursor = end
    kept.append(text[cursor:])
    return Focus("".join(kept), tuple(text[start:end] for start, end in merged))


def _sentences(text: str) -> list[tuple[int, int]]:
    """Spans of the sentences, each without its closing mark."""
    spans, start = [], 0
    for mark in _SENTENCE_END.finditer(text):
        spans.append((start, mark.start()))
        start = mark.end()
    spans.append((start, len(text)))
    return spans


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(span for span in spans if span[1] > span[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
