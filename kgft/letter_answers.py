"""MCQ for chat-only models: ask for the option letter, then read it out of the reply.

This is how lm-evaluation-harness scores chat APIs (generate_until and a regex). The reading is
conservative: a reply that names no letter, or asserts two, is no answer, never a guess. A question
that says several options may be right (多选, 不定项, 哪些) asks for every right letter instead, and
its reply is read as a set ("ABD", "A、B、D", "答案是A和C").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kgft.backends.base import ChatMessage

# "答案是B", "The answer is B" and "B. Paris" fit in a few tokens; a longer reply is an explanation.
MAX_REPLY_TOKENS = 16
# A chat model that explains goes on after a blank line; the letter comes before it.
STOP = ("\n\n",)
INSTRUCTION_ZH = "请只回答选项字母。"
INSTRUCTION_EN = "Answer with the letter only."
SEVERAL_INSTRUCTION_ZH = "可能有一个或多个正确选项，请只回答所有正确选项的字母，例如ABD。"
SEVERAL_INSTRUCTION_EN = (
    "One or more options may be correct; answer with all the correct letters only, e.g. ABD."
)
# How a question says it may have more than one right option (Chinese exams: 多选题, 不定项选择题, 下列哪些).
_SEVERAL = re.compile(r"多选|多项选择|不定项|哪些|(?i:select\s+all|all\s+that\s+apply|one\s+or\s+more)")

_THINKING = re.compile(r"<think>.*?(?:</think>|$)", re.DOTALL)
_SPECIAL_TAG = re.compile(r"<\|?/?[a-z_]{1,16}\|?>")  # <eoa>, </s>, <|im_end|>; never <B>
_MARKUP = re.compile(r"[*`#]|\\text(?:bf)?\{|\\boxed\{|\$")

_LETTER = r"(?P<letter>[A-Z]{1,8}|[a-z])(?![A-Za-z])"
_OPEN = r"[\s:=\-\]】)(（\[【\"“'‘「]*"  # what may stand between a cue and its letter
_ZH_CUE = (
    r"(?:正确答案|参考答案|最终答案|答案|正确的选项|正确选项|正确的是|正确项|应选|选择|选(?!项)|答)"
    r"(?:应该|应当|应|就|当|则)?(?:是|为)?"
)
_EN_CUE = (
    r"(?i:(?:(?:correct|right|best|final)\s+(?:answer|option|choice)|answer)"
    r"(?:\s+(?:is|would\s+be|should\s+be|will\s+be))?"
    r"|(?:i\s+(?:would\s+|will\s+|'d\s+)?)?(?:choose|pick|select|go\s+with))"
)
_CUE_BEFORE = re.compile(rf"(?:{_ZH_CUE}|{_EN_CUE}){_OPEN}(?:选项|(?i:option|choice|letter)\s*)?{_LETTER}")
_CUE_AFTER = re.compile(
    r"(?<![A-Za-z])(?P<letter>[A-Z])(?![A-Za-z])[\s)\].]*"
    r"(?:(?:项|选项)?\s*(?:是)?正确|是对的|(?i:is\s+(?:the\s+)?(?:correct|right|best)))"
)
_JOIN = r"(?:(?i:or|and|nor)|和|或者|或|与|及|以及|、|/|&|\+)"
_JOINED_AFTER = re.compile(
    rf"^[\s)\]】）]*(?:{_JOIN}[\s(\[【（]*(?:选项)?(?P<letter>[A-Z])(?![A-Za-z])"
    r"|[,，]\s*(?P<listed>[A-Z])(?![A-Za-z])\s*(?:[,，、.。]|$|(?i:or|and)\b|和|或))"
)
_JOINED_BEFORE = re.compile(rf"(?<![A-Za-z])(?P<letter>[A-Z])(?![A-Za-z])[\s)\]】）]*{_JOIN}\s*[(\[【（]*$")
_BARE = re.compile(r"^[(\[【（]?(?P<letter>[A-Za-z])[)\]】）]?[.。:]?$")
_LEADING = re.compile(r"^[(\[【（]?(?P<letter>[A-Z])(?:[)\]】）]|[.:、](?!\d))")
_LINE_MARKER = re.compile(r"(?m)^\s*[(\[【（]?(?P<letter>[A-Z])(?:[)\]】）]|[.:、](?!\d))")
# A capital standing alone; "A" before a lowercase word is the English article, "I" the pronoun.
_LOOSE = re.compile(
    r"(?<![A-Za-z])(?P<letter>[A-Z])(?![A-Za-z])"
    r"(?!(?<=[AI])\s+(?!(?:or|and|nor|is|was|seems|looks|would|could|should|might|may|can|has)\b)[a-z])"
)
_PLAIN = re.compile(r"[\s\"'“”‘’「」.。!！,，;；:：]+")


@dataclass(frozen=True)
class LetterReading:
    letter: str | None
    reason: str | None = None  # why there is no letter; None when there is one


def allows_several(question: str) -> bool:
    """True when the question itself says more than one option may be right."""
    return _SEVERAL.search(question) is not None


def asked(messages: Sequence[ChatMessage]) -> str:
    """The question a route's messages end in: the last user turn ("" when there is none)."""
    return messages[-1].content if messages and messages[-1].role == "user" else ""


def letter_prompt(question: str, options: Mapping[str, str], *, several: bool = False) -> str:
    """The question, its options one a line ("A. …"), and the instruction in the question's language:
    one letter, or every right letter when `several`."""
    listed = "\n".join(f"{letter}. {text}" for letter, text in options.items())
    chinese = is_chinese(question)
    if several:
        instruction = SEVERAL_INSTRUCTION_ZH if chinese else SEVERAL_INSTRUCTION_EN
    else:
        instruction = INSTRUCTION_ZH if chinese else INSTRUCTION_EN
    return f"{question}\n\n{listed}\n\n{instruction}"


def letter_messages(
    messages: Sequence[ChatMessage], options: Mapping[str, str], *, several: bool = False
) -> list[ChatMessage]:
    """The route's own messages with the options and the instruction added to the last user turn."""
    if messages and messages[-1].role == "user":
        *head, last = messages
        return [*head, ChatMessage("user", letter_prompt(last.content, options, several=several))]
    return [*messages, ChatMessage("user", letter_prompt("", options, several=several).lstrip())]


def is_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


def parse_letter(reply: str, letters: Iterable[str]) -> str | None:
    """The one option letter the reply asserts, or None. Pass the options mapping, not just its letters,
    to let a reply that restates one option's text exactly count as that option."""
    return read_letter(reply, letters).letter


def read_letter(reply: str, letters: Iterable[str]) -> LetterReading:
    """`parse_letter` with the reason when there is no letter. Rules, first that applies wins:
    a first line that is only a letter; letters an answer cue names ("答案是B", "选B", "B正确", "The answer
    is (b)", "B is correct"); a letter opening the reply ("B. …"); capitals standing alone; the exact
    text of one option. Within a rule, two different letters ("A or B", "A和B") are no answer."""
    texts = dict(letters) if isinstance(letters, Mapping) else {}
    allowed = frozenset(texts or letters)
    text = _normalise(reply)
    if not text:
        return LetterReading(None, "empty reply")
    if bare := _BARE.match(text.split("\n", 1)[0].strip()):  # "B\n\n解析：A项错误…" answers B
        return _decide({bare["letter"].upper()}, allowed)
    cued = _cued(text, allowed)
    if cued:
        return _decide(cued, allowed)
    if (leading := _LEADING.match(text)) and leading["letter"] in allowed:
        markers = {match["letter"] for match in _LINE_MARKER.finditer(text)} & allowed
        return _decide(markers | {leading["letter"]}, allowed)
    loose = {match["letter"] for match in _LOOSE.finditer(text)} & allowed
    if loose:
        return _decide(loose, allowed)
    plain = _plain(text)
    restated = [letter for letter, option in texts.items() if plain and _plain(option) == plain]
    if len(restated) == 1:
        return LetterReading(restated[0])
    return LetterReading(None, "no option letter in the reply")


def _normalise(reply: str) -> str:
    """Full-width forms folded (Ｂ → B, （ → (), thinking and special tokens and markdown dropped."""
    text = unicodedata.normalize("NFKC", reply)
    text = _THINKING.sub(" ", text)
    text = _SPECIAL_TAG.sub(" ", text)
    text = _MARKUP.sub("", text).replace("}", " ")
    return text.strip()


def _plain(text: str) -> str:
    """Text without spaces, quotes and punctuation, for comparing a reply with an option's text."""
    return _PLAIN.sub("", unicodedata.normalize("NFKC", text)).casefold()


def _cued(text: str, allowed: frozenset[str]) -> set[str]:
    """Every letter an answer cue names, with the letters joined to it ("答案是A或B" gives A and B)."""
    found: set[str] = set()
    for match in _CUE_BEFORE.finditer(text):
        letters = match["letter"]
        if letters.islower() and re.match(r"\s+[a-z]", text[match.end() :]):
            continue  # "the answer is a bit …": an article, not option (a)
        if len(letters) > 1 and not (set(letters) <= allowed and len(set(letters)) == len(letters)):
            continue  # "答案是DNA…" is a word; "答案是AC" names two options
        found |= set(letters.upper()) | _joined_after(text, match.end())
    for match in _CUE_AFTER.finditer(text):
        found.add(match["letter"])
        if joined := _JOINED_BEFORE.search(text[: match.start("letter")]):
            found.add(joined["letter"])
    return found


def _joined_after(text: str, end: int) -> set[str]:
    joined = _JOINED_AFTER.match(text[end:])
    return {joined["letter"] or joined["listed"]} if joined else set()


def _decide(letters: set[str], allowed: frozenset[str]) -> LetterReading:
    inside = letters & allowed
    if len(inside) == 1 and letters == inside:
        return LetterReading(next(iter(inside)))
    if len(letters) > 1:
        return LetterReading(None, f"the reply names more than one option: {', '.join(sorted(letters))}")
    return LetterReading(None, f"the reply names {''.join(letters)}, which is not an option")


_LIST_SEPARATOR = r"(?:\s*(?:[,，、;；/&+]|(?i:and)|和|与|及|以及)\s*|\s*)"
_LETTER_LIST = rf"[A-Z](?:{_LIST_SEPARATOR}[A-Z])*"
_BARE_LIST = re.compile(rf"^[(\[【（]?(?P<letters>{_LETTER_LIST})[)\]】）]?[.。]?$")
_PLURAL_CUE = r"(?i:(?:correct\s+|right\s+)?(?:answers|options|choices)\s+are)"
_CUED_LIST = re.compile(
    rf"(?:{_ZH_CUE}|{_PLURAL_CUE}|{_EN_CUE}){_OPEN}(?:选项|(?i:options?)\s*)?"
    rf"(?P<letters>{_LETTER_LIST})(?![A-Za-z])"
)
_LIST_CORRECT = re.compile(
    rf"(?<![A-Za-z])(?P<letters>{_LETTER_LIST})(?![A-Za-z])[\s)\].]*"
    r"(?:(?:项|选项)?\s*(?:都|均)?(?:是)?正确|是对的|(?i:(?:are|is)\s+(?:all\s+)?(?:the\s+)?(?:correct|right)))"
)


def read_letters(reply: str, letters: Iterable[str]) -> LetterReading:
    """The set of options a reply to a "one or more" question names, as sorted letters ("ABD"), or None
    with the reason. Rules, first that applies wins: a first line that is only letters ("ABD", "A、B、D");
    letters an answer cue names ("答案是A和C", "The answers are A, C"); letters said to be right ("A和C正确");
    else what `read_letter` reads (one letter). Letters that are not all options are not read as a set."""
    allowed = frozenset(dict(letters) if isinstance(letters, Mapping) else letters)
    text = _normalise(reply)
    first = text.split("\n", 1)[0].strip()
    for found in (_BARE_LIST.match(first), _CUED_LIST.search(text), _LIST_CORRECT.search(text)):
        named = set(re.findall(r"[A-Z]", found["letters"])) if found else set()
        if named and named <= allowed:  # "DNA" is a word, not options D, N and A
            return LetterReading("".join(sorted(named)))
    return read_letter(reply, letters)
