"""Chinese numerals ⇄ int, and article references ("第二百三十二条", "第232条") found in text.

Statutes number their articles in Chinese numerals while users type either form, so both must
reach the same integer that article node ids use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_SMALL_UNITS = {"十": 10, "百": 100, "千": 1000}
_BIG_UNITS = {"万": 10_000, "亿": 100_000_000}
_DIGIT_CHARS = "零一二三四五六七八九"
_ZH_NUMERAL = "[" + "".join(_DIGITS) + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS) + "]+"

# \d is Unicode-aware, so full-width "１０８４" matches and int() reads it.
_ARTICLE_REF = re.compile(rf"第\s*(\d+|{_ZH_NUMERAL})\s*条(?:之({_ZH_NUMERAL}))?")


def zh_to_int(text: str) -> int:
    """Read 一千零八十四, 十一, 两万, 一百十 (colloquial 110) or digit by digit 二〇二〇; else ValueError."""
    if not text or any(ch not in _DIGITS and ch not in _SMALL_UNITS and ch not in _BIG_UNITS for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    if len(text) > 1 and all(ch in _DIGITS for ch in text):
        return int("".join(str(_DIGITS[ch]) for ch in text))
    total = section = 0
    digit: int | None = None
    for ch in text:
        if ch in _DIGITS:
            if digit:  # "三十四五" (34 or 35): two digits in a row is no positional numeral
                raise ValueError(f"not a Chinese numeral: {text!r}")
            digit = _DIGITS[ch]
        elif ch in _SMALL_UNITS:
            section += (1 if digit is None else digit) * _SMALL_UNITS[ch]  # bare 十 is 10
            digit = None
        else:
            unit = _BIG_UNITS[ch]
            group = section + (digit or 0)
            total = (total + group) * unit if unit > 10_000 else total + group * unit
            section, digit = 0, None
    return total + section + (digit or 0)


def int_to_zh(number: int) -> str:
    """Write the form statutes use: 10 → 十, 110 → 一百一十, 1084 → 一千零八十四, 10010 → 一万零一十."""
    if number < 0:
        raise ValueError(f"negative numbers have no article form: {number}")
    if number == 0:
        return "零"
    groups: list[tuple[int, str]] = []
    for unit, name in ((100_000_000, "亿"), (10_000, "万"), (1, "")):
        groups.append((number // unit % 10_000 if unit < 100_000_000 else number // unit, name))
    parts: list[str] = []
    for value, name in groups:
        if value == 0:
            if parts and not parts[-1].endswith("零"):
                parts.append("零")
            continue
        if parts and value < 1000 and not parts[-1].endswith("零"):
            parts.append("零")
        parts.append(_below_10000(value) if value < 10_000 else int_to_zh(value))
        parts.append(name)
    text = "".join(parts).rstrip("零")
    return text[1:] if text.startswith("一十") else text


def _below_10000(value: int) -> str:
    out = ""
    pending_zero = False
    for unit, name in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
        digit = value // unit % 10
        if digit == 0:
            pending_zero = bool(out)
            continue
        if pending_zero:
            out += "零"
            pending_zero = False
        out += _DIGIT_CHARS[digit] + name
    return out


@dataclass(frozen=True)
class ArticleRef:
    """One "第X条" in a text; `sub` is the n of "第X条之n" (0 when absent), `start:end` its span."""

    number: int
    start: int
    end: int
    sub: int = 0


def find_article_refs(text: str) -> list[ArticleRef]:
    """Every article reference in `text`, in order; numerals that do not parse are skipped."""
    refs = []
    for match in _ARTICLE_REF.finditer(text):
        number_text, sub_text = match.group(1), match.group(2)
        try:
            number = int(number_text) if number_text[0].isdigit() else zh_to_int(number_text)
            sub = zh_to_int(sub_text) if sub_text else 0
        except ValueError:
            continue
        refs.append(ArticleRef(number, match.start(), match.end(), sub))
    return refs
