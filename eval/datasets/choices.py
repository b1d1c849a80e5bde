"""Reading MCQ options and answer letters out of benchmark text ("A: ..." lines or "?A:...;B:...")."""

from __future__ import annotations

import re

# An option marker: a capital letter not glued to a preceding letter or digit ("DNA:" is not one).
_MARK = re.compile(r"(?<![A-Za-z0-9])([A-H])[ \t]*[:：．.]")
# What may sit before B:, C:, ...: the end of the previous option.
_BEFORE_NEXT = "\n\t ;；,，。"
_TRAILING = " \t\n;；"  # separators between inline options, not the text's own punctuation
# "B", "ABD", "A, B", "正确答案：B。", "[正确答案]A<eoa>", "答案：ABD": only letters after the label.
_ANSWER = re.compile(r"^\W*(?:正确答案|答案)?\W*?([A-H](?:[\s,，、和]*[A-H])*)\s*(?:<eoa>)?\s*[。.]?\s*$")


def split_options(text: str) -> tuple[str, dict[str, str]] | None:
    """(stem, {letter: option}) when the text ends in options A, B, ...; None when it has none."""
    marks = list(_MARK.finditer(text))
    # The last "A:" that starts a chain wins, so a stem that happens to contain "A:" is not cut.
    for first in reversed([mark for mark in marks if mark.group(1) == "A"]):
        chain = [first]
        for mark in marks:
            expected = chr(ord(chain[-1].group(1)) + 1)
            if mark.start() > chain[-1].end() and mark.group(1) == expected and _ends_option(text, mark):
                chain.append(mark)
        if len(chain) < 2:
            continue
        ends = [mark.start() for mark in chain[1:]] + [len(text)]
        spans = zip(chain, ends, strict=True)
        options = {mark.group(1): text[mark.end() : end].strip(_TRAILING) for mark, end in spans}
        stem = text[: first.start()].strip()
        if stem and all(options.values()):
            return stem, options
    return None


def answer_letters(answer: str) -> str | None:
    """The sorted, de-duplicated letters an answer names ("B,A" -> "AB"), or None if it is not letters."""
    match = _ANSWER.match(answer.strip())
    if match is None:
        return None
    return "".join(sorted(set(re.findall(r"[A-H]", match.group(1)))))


def _ends_option(text: str, mark: re.Match[str]) -> bool:
    return mark.start() == 0 or text[mark.start() - 1] in _BEFORE_NEXT
