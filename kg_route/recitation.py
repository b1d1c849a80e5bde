"""Whether an open question asks for one named article's text, which the graph holds verbatim.

"刑法第二百三十二条的内容是什么？", "《民法典》第1084条规定了什么？", "请背诵刑法第232条",
"…第N条是怎么规定的", "What does 刑法第232条 say?": the answer is the article itself, so no model needs
to write it. The rule is narrow on purpose: exactly one article is linked, and the sentence naming it is
only that article plus a content cue after it (的内容是什么, 规定了什么, 是怎么规定的, say …) or a recite cue
before it (背诵, 默写, recite …). Anything else about the article ("…第N条规定的罪名的刑期是多少", "…规定了
什么罪名") is a question for generation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from kg_route.linking import Link

_SENTENCE_END = re.compile(r"[。！？!?；;\n]")
# After the asking sentence only instructions may follow ("请直接给出法条内容。"), not another question.
_QUESTION = re.compile(
    r"[?？]|什么|哪|如何|怎么|怎样|为何|何种|有何|吗|多少|\b(?:what|which|how|why)\b", re.I
)
_CLOSERS = r"[\s》」』”\"'）)]*"
_TRAILER = r"[\s?？。.:：!！]*"
_CONTENT_CUES = (
    r"(?:(?:所)?规定的)?(?:具体)?(?:内容|条文|原文|全文|规定)(?:具体)?(?:是什么|是|为|为何|是怎样的|有哪些|有什么)"
    r"|(?:规定了|讲了|说了|写了)(?:什么|些什么|哪些)(?:内容)?"
    r"|(?:是)?(?:怎么|如何|怎样)(?:规定|说|写)的"
)
_CONTENT_AFTER = re.compile(f"{_CLOSERS}(?:的|中的)?(?:具体)?(?:{_CONTENT_CUES}){_TRAILER}")
_RECITE_BEFORE = re.compile(
    r"(?:背诵|默写|复述|背出|写出|给出|列出|引用)(?:一下)?(?:下列|以下|下面)?(?:的)?(?:法条|条文)?[\s：:“\"《]*$"
)
_PLAIN_AFTER = re.compile(_CLOSERS + r"(?:的)?(?:内容|条文|原文|全文|规定)?" + _TRAILER)
_EN_WHAT_DOES = re.compile(r"\bwhat\s+does\s*$", re.IGNORECASE)
_EN_SAY = re.compile(_CLOSERS + r"(?:say|state|provide|stipulate)s?" + _TRAILER, re.IGNORECASE)
_EN_RECITE = re.compile(
    r"\b(?:recite|quote|(?:what\s+is|give(?:\s+me)?|tell\s+me)\s+the\s+(?:full\s+)?(?:text|content|wording)\s+of)"
    r"\s*$",
    re.IGNORECASE,
)


def recited_article(text: str, links: Sequence[Link]) -> str | None:
    """The node id of the one article `text` asks to have recited, else None (`links` index `text`)."""
    articles = {link.node_id: link for link in links if link.kind == "Article"}
    if len(articles) != 1:
        return None
    article = next(iter(articles.values()))
    laws = [link for link in links if link.kind == "Law" and link.end <= article.start]
    mention_start = max(laws, key=lambda law: law.end).start if laws else article.start
    sentence_start = max((m.end() for m in _SENTENCE_END.finditer(text, 0, mention_start)), default=0)
    end_mark = _SENTENCE_END.search(text, article.end)
    # The mark that ends the sentence ("？") belongs to the cue, so the cue may run through it.
    sentence_end = end_mark.end() if end_mark else len(text)
    before, after = text[sentence_start:mention_start], text[article.end : sentence_end]
    if _QUESTION.search(text, sentence_end):
        return None
    asks = (
        _CONTENT_AFTER.fullmatch(after) is not None
        or (_RECITE_BEFORE.search(before) is not None and _PLAIN_AFTER.fullmatch(after) is not None)
        or (_EN_WHAT_DOES.search(before) is not None and _EN_SAY.fullmatch(after) is not None)
        or (_EN_RECITE.search(before) is not None and _PLAIN_AFTER.fullmatch(after) is not None)
    )
    return article.node_id if asks else None
