"""Options written into a question's text, and the answer format its instruction shows.

Apps and benchmarks send an MCQ as one plain message ("…的内容是:\nA: 甲…\nB: 乙…\n答案："); reading the
options out lets a route score them instead of answering open-ended. The reading is conservative: prose
that merely mentions "A:" or "B." ("Plan A: …", "A公司与B公司…") stays an open question.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

MAX_OPTIONS = 8
# The longest option in LexEval and JEC-QA is 248 characters; an enumeration "A、… B、… C、…" in a CAIL
# judgment runs on for thousands, so an option past this is prose, not a choice.
MAX_OPTION_CHARS = 600
# A letter in parentheses, or a letter and one separator; the dot may not start a number ("A.1").
_MARKER = re.compile(r"[(（](?P<wrapped>[A-Z])[)）]|(?P<letter>[A-Z])(?P<sep>[:：、)）]|[.．](?!\d))")
_FAMILY = {":": ":", "：": ":", ".": ".", "．": ".", "、": "、", ")": ")", "）": ")"}
# What may come right before option A on its line: the end of the stem.
_STEM_ENDS = frozenset("?？:：。.;；!！")
# What may come right before a later option on its line, besides spaces: the end of the previous one.
_OPTION_ENDS = frozenset(";；,，。")
_QUOTES = (("“", "”"), ("「", "」"), ("『", "』"), ("‘", "’"))
_NON_SPACE = re.compile(r"\S")
_CHOICE_CUES = re.compile(
    r"选择|选项|选出|选一|单选|多选|下列|以下哪|哪一|哪个|哪些|哪项|哪种|哪位|正确的是|错误的是|不正确|"
    r"答案|\b(?:which|choose|select|correct|answer|option|true|false|best)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class ParsedMCQ:
    stem: str  # the text without the options: instruction, question and any trailer ("答案：")
    options: dict[str, str]


@dataclass(frozen=True)
class _Marker:
    letter: str
    family: str
    start: int
    end: int
    opens_line: bool
    before: str  # the nearest non-space character before it on its line, "" when it opens the line
    spaced: bool  # spaces stand between it and `before`


def find_options(text: str) -> ParsedMCQ | None:
    """The stem and options {"A": …} when the text lists at least two options lettered A, B, … in one
    style; None when it does not, or when the options would leave no question."""
    if _MARKER.search(text) is None:  # most chat turns: no lettered option at all, nothing to parse
        return None
    text = text.replace("\r\n", "\n")
    runs = [run for family in {*_FAMILY.values(), "()"} if (run := _run(_markers(text, family)))]
    if not runs:
        return None
    best = max(runs, key=lambda run: (len(run), run[0].start))
    options: dict[str, str] = {}
    for marker, following in zip(best, [*best[1:], None], strict=True):
        stop = following.start if following else _line_end(text, marker.end)
        option = text[marker.end : stop].strip().rstrip(";；,，").strip()
        if not 0 < len(option) <= MAX_OPTION_CHARS:
            return None
        options[marker.letter] = option
    before, after = text[: best[0].start].strip(), text[_line_end(text, best[-1].end) :].strip()
    stem = "\n".join(part for part in (before, after) if part)
    if not stem or (after and not asks_for_a_choice(after)):
        return None
    return ParsedMCQ(stem, options)


def asks_for_a_choice(text: str) -> bool:
    """Whether text after a lettered list asks to pick ("答案：", "选出…", "Which…"), as an MCQ's tail
    does; "…包括以下条款：A. 付款方式 B. 违约责任\n请详细展开。" goes on to ask for prose instead."""
    return _CHOICE_CUES.search(text) is not None or answer_template(text) is not None


def _markers(text: str, family: str) -> list[_Marker]:
    """Every marker of one style, read line by line in one pass each (quote counts carried along), so a
    long line costs its length, not its length times its markers: the gateway parses on its event loop."""
    found = []
    offset = 0
    for line in text.split("\n"):
        quotes = _QuoteCounts()
        read = 0
        for match in _MARKER.finditer(line):
            wrapped = match["wrapped"]
            if (_FAMILY.get(match["sep"] or "") if not wrapped else "()") != family:
                continue
            quotes.add(line[read : match.start()])
            read = match.start()
            if quotes.open() or _NON_SPACE.search(line, match.end()) is None:
                continue
            last = match.start() - 1
            while last >= 0 and line[last].isspace():
                last -= 1
            found.append(
                _Marker(
                    letter=wrapped or match["letter"],
                    family=family,
                    start=offset + match.start(),
                    end=offset + match.end(),
                    opens_line=last < 0,
                    before=line[last] if last >= 0 else "",
                    spaced=last < match.start() - 1,
                )
            )
        offset += len(line) + 1
    return [marker for marker in found if marker.opens_line or _may_follow(marker)]


def _may_follow(marker: _Marker) -> bool:
    """Off a line's start, option A follows a stem's end and a later option follows a space or ';'."""
    if marker.letter == "A":
        return marker.before in _STEM_ENDS
    return marker.spaced or marker.before in _OPTION_ENDS


def _run(markers: list[_Marker]) -> list[_Marker] | None:
    """The markers from the last "A" on when they are A, B, C, … once each, in order, and no earlier
    marker repeats one of their letters: a second list (a dialogue of A: and B:, an example) or a skipped
    letter means this is not a list of options. Earlier other letters ("X：4331780，Y：…") do not count."""
    starts = [index for index, marker in enumerate(markers) if marker.letter == "A"]
    if not starts:
        return None
    run = markers[starts[-1] :]
    letters = [marker.letter for marker in run]
    if not 2 <= len(run) <= MAX_OPTIONS or letters != [chr(ord("A") + i) for i in range(len(run))]:
        return None
    if any(marker.letter in letters for marker in markers[: starts[-1]]):
        return None
    return run


class _QuoteCounts:
    """Quote marks seen so far on a line: an option list inside quotes ("按“A. 是 B. 否”的格式") is an
    example, not the options."""

    def __init__(self) -> None:
        self.counts = dict.fromkeys(['"', *(mark for pair in _QUOTES for mark in pair)], 0)

    def add(self, segment: str) -> None:
        for mark in self.counts:
            self.counts[mark] += segment.count(mark)

    def open(self) -> bool:
        if self.counts['"'] % 2:
            return True
        return any(self.counts[opening] > self.counts[closing] for opening, closing in _QUOTES)


def _line_end(text: str, position: int) -> int:
    end = text.find("\n", position)
    return len(text) if end < 0 else end


@dataclass(frozen=True)
class AnswerTemplate:
    """The reply's shape as the instruction shows it: `prefix` + the letter (or option text) + `suffix`."""

    prefix: str
    suffix: str
    slot: Literal["letter", "text"]


# LawBench: "[正确答案]A<eoa>", "【正确答案】A<eoa>", "[罪名]盗窃<eoa>", or "写在[正确答案]和<eoa>之间".
_BRACKETED = re.compile(
    r"(?P<prefix>[\[【][^\[\]【】<>\n]{1,20}[\]】])[ \t]*(?P<example>[^\s<>\[\]【】]{0,30})[ \t]*<eoa>"
)
_BETWEEN = frozenset({"和", "与", "及", "and"})
# "答案：A", "正确答案: A", "Answer: A", or a prompt that ends on the cue ("…\n答案：").
_LABELLED = (
    re.compile(r"(?P<prefix>(?:正确)?答案[ \t]*[:：][ \t]*)(?:[A-H](?![A-Za-z])|\Z)"),
    re.compile(r"(?P<prefix>\banswer[ \t]*:[ \t]*)(?:[A-H]\b|\Z)", re.IGNORECASE),
)


def answer_template(text: str) -> AnswerTemplate | None:
    """The first format the text shows, bracketed LawBench answers first; None when it shows none."""
    text = text.rstrip()
    if bracketed := _BRACKETED.search(text):
        example = bracketed["example"]
        letter = example in _BETWEEN or re.fullmatch(r"[A-H]*", example) is not None
        return AnswerTemplate(bracketed["prefix"], "<eoa>", "letter" if letter else "text")
    for pattern in _LABELLED:
        if labelled := pattern.search(text):
            prefix = labelled["prefix"]  # "Answer:" at the prompt's end gets the space a reply puts after it
            return AnswerTemplate(prefix + " " if prefix.endswith(":") else prefix, "", "letter")
    return None


def fill(template: AnswerTemplate | None, letter: str, option_text: str) -> str:
    """The reply for a picked option: in the template's shape, else the letter once with its text."""
    if template is None:
        return f"{letter}. {option_text}"
    return template.prefix + (letter if template.slot == "letter" else option_text) + template.suffix
