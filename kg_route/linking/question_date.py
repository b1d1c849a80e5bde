"""The date a question names ("2020年时…", "2019年5月1日…"), so retrieval answers from the law then in force.

Rule: a full date is that day; a year and month is the month's last day; a year alone is the year's last
day ("what was in force in 2020" reads as the law at the end of 2020). The first date named wins. Only a
four-digit year (1949–2100, Arabic or 〇一二… digits) followed by 年 counts, so article numbers, amounts
("罚款2000元"), terms ("三年以下") and ages ("年满十六周岁") never do; a year inside a law's name
("宪法修正案（2004年）") or a birth year ("2000年出生") names no date of the question.
"""

from __future__ import annotations

import calendar
import re
from datetime import date

FIRST_YEAR, LAST_YEAR = 1949, 2100
_ZH_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_DIGIT = r"[0-9〇零一二三四五六七八九]"
_NUMBER = r"[0-9一二三四五六七八九十]{1,3}"
_DATE = re.compile(
    rf"(?<![0-9〇零一二三四五六七八九])(?P<year>{_DIGIT}{{4}})\s*年"
    rf"(?:\s*(?P<month>{_NUMBER})\s*月(?:\s*(?P<day>{_NUMBER})\s*[日号])?)?"
    r"(?P<after>\s*(?:[）)]|出生|生人|生))?"
)


def question_date(text: str) -> date | None:
    """The first date `text` names, by the rule above; None when it names none."""
    for match in _DATE.finditer(text):
        if match["after"]:
            continue
        year = int(match["year"].translate(_ZH_DIGITS))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            continue
        named = _date(year, match["month"], match["day"])
        if named is not None:
            return named
    return None


def _date(year: int, month_text: str | None, day_text: str | None) -> date | None:
    """The named day, the month's or the year's last day; None for a month or day no calendar has."""
    if month_text is None:
        return date(year, 12, 31)
    month = _small_number(month_text)
    if not 1 <= month <= 12:
        return None
    last_day = calendar.monthrange(year, month)[1]
    day = last_day if day_text is None else _small_number(day_text)
    return date(year, month, day) if 1 <= day <= last_day else None


def _small_number(text: str) -> int:
    """ "5", "12", "五", "十二", "二十一" → int (month and day numbers only)."""
    if text.isdigit():
        return int(text)
    digits = text.translate(_ZH_DIGITS)
    if "十" not in digits:
        return int(digits) if digits.isdigit() else 0
    tens, _, ones = digits.partition("十")
    if not (tens.isdigit() or tens == "") or not (ones.isdigit() or ones == ""):
        return 0
    return int(tens or 1) * 10 + int(ones or 0)
