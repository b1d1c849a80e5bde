"""Element phrases of a charge: the behaviour its article describes, cut from the punishment that follows.

"盗窃公私财物，数额较大的，或者多次盗窃、入户盗窃…的，处三年以下有期徒刑…" gives 盗窃公私财物, 数额较大,
多次盗窃, 入户盗窃, …; listed cases ("（二）醉酒驾驶机动车的；") give their own phrases. Retrieval
matches case facts against these, so a charge with no precedent can still be found.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

# Where the description of the act ends and the consequence starts.
_CONSEQUENCE = re.compile(
    r"(?:[，,；;:：]|^)(?:处|并处|判处|依照|依法|都?应当|从重|从轻|对单位判处|以[^，。]{1,12}论)"
)
_ITEM = re.compile(r"^（[一二三四五六七八九十]+）")
_PHRASE_SPLIT = re.compile(r"[，,、；;：:]|或者|以及")
_LEADING = ("或者", "并且", "并", "而", "以及")
MIN_PHRASE_CHARS = 2
MAX_PHRASES = 24


def paragraphs(article_text: str) -> list[str]:
    """An article's 款: each line that is not a listed item, with the items ("（一）…") that follow it."""
    found: list[str] = []
    for line in article_text.splitlines():
        line = line.strip()
        if not line:
            continue
        if _ITEM.match(line) and found:
            found[-1] += "\n" + line
        else:
            found.append(line)
    return found


def element_phrases(article_text: str, paragraph_numbers: Sequence[int] = ()) -> list[str]:
    """The act-describing phrases of the named paragraphs (all of the article when none is named), in
    order, each once."""
    parts = paragraphs(article_text)
    chosen = [parts[n - 1] for n in paragraph_numbers if 0 < n <= len(parts)] or parts[:1]
    phrases: list[str] = []
    for paragraph in chosen:
        for line in paragraph.splitlines():
            for sentence in re.split(r"[。]", _ITEM.sub("", line)):
                end = _CONSEQUENCE.search(sentence)
                phrases += _phrases(sentence[: end.start()] if end else sentence)
    return list(dict.fromkeys(phrases))[:MAX_PHRASES]


def _phrases(clause: str) -> list[str]:
    out = []
    for piece in _PHRASE_SPLIT.split(clause):
        phrase = piece.strip()
        if phrase.endswith("的") and not phrase.endswith("目的"):
            phrase = phrase[:-1]
        for lead in _LEADING:
            phrase = phrase.removeprefix(lead)
        if len(phrase) >= MIN_PHRASE_CHARS and "下列" not in phrase and "本法" not in phrase:
            out.append(phrase)
    return out
