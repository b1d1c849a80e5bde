"""Stop a reply that has started to loop: a small model (SmolLM2 on Chinese) repeats whole lines, or one
phrase over and over, until max_tokens, which costs seconds and adds nothing. A strong model rarely
repeats a line of 8+ word characters in one answer, or one phrase four times running; rules made of
dashes or table bars carry too few word characters to count."""

from __future__ import annotations

import re

MIN_LINE_WORD_CHARS = 8
PHRASE_REPEATS = 4  # a phrase of 4-40 characters, this many times in a row, ends the reply
TAIL_CHARS = 400  # where the phrase loop is looked for: the end of the text
_WORD_CHAR = re.compile(r"\w")
_PHRASE_LOOP = re.compile(r"(.{4,40}?)\1{" + str(PHRASE_REPEATS - 1) + r",}$", re.DOTALL)


def is_looping(text: str) -> bool:
    return _repeats_a_line(text) or _repeats_a_phrase(text)


def _repeats_a_line(text: str) -> bool:
    """A complete line (ended by a newline) repeats an earlier one of MIN_LINE_WORD_CHARS or more."""
    seen: set[str] = set()
    for line in text.split("\n")[:-1]:
        key = line.strip()
        if len(_WORD_CHAR.findall(key)) < MIN_LINE_WORD_CHARS:
            continue
        if key in seen:
            return True
        seen.add(key)
    return False


def _repeats_a_phrase(text: str) -> bool:
    loop = _PHRASE_LOOP.search(text[-TAIL_CHARS:])
    return loop is not None and len(_WORD_CHAR.findall(loop.group(1))) >= 2
