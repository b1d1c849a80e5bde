"""Why a text cannot be read as a Chinese case description: empty, too long or not Chinese.

Checked before any ranking, so a bad input gets one clear reason instead of a guess.
"""

from __future__ import annotations

MAX_FACT_CHARS = 40_000  # the longest CAIL2018 fact here is 39,586 characters
MIN_CHINESE_SHARE = 0.3  # of the non-space characters; CAIL facts run at 0.75 and above


def fact_problem(fact: str) -> str | None:
    """The reason this text is no fact description to rank charges for, or None."""
    text = fact.strip()
    if not text:
        return "the fact text is empty"
    if len(text) > MAX_FACT_CHARS:
        return f"the fact text runs to {len(text):,} characters; at most {MAX_FACT_CHARS:,} are read"
    letters = [ch for ch in text if not ch.isspace()]
    share = sum(1 for ch in letters if _is_chinese(ch)) / len(letters)
    if share < MIN_CHINESE_SHARE:
        return (
            f"the fact text is {share:.0%} Chinese; charges are ranked for Chinese case descriptions "
            "(the 刑法 and CAIL2018 are Chinese)"
        )
    return None


def _is_chinese(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff" or "\u3400" <= ch <= "\u4dbf"
