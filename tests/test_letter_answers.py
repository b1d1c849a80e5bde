"""Reading the option letter out of a chat model's reply: the phrasings real models use, and the traps."""

from __future__ import annotations

import pytest

from kgft.backends.base import ChatMessage
from kgft.letter_answers import (
    INSTRUCTION_EN,
    INSTRUCTION_ZH,
    letter_messages,
    letter_prompt,
    parse_letter,
    read_letter,
)

OPTIONS = {
    "A": "故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑",
    "B": "盗窃公私财物，数额较大的",
    "C": "Paris",
    "D": "The patient takes aspirin.",
}
LETTERS = list(OPTIONS)


@pytest.mark.parametrize(
    "reply",
    [
        "B",
        "B.",
        "B。",
        " B\n",
        "(B)",
        "（B）",
        "Ｂ",
        "**B**",
        "`B`",
        "b",
        "[B]",
        "【B】",
        "答案是B",
        "答案：B",
        "答案: B",
        "答案是：B。",
        "答案为B选项",
        "正确答案为 B。",
        "正确答案是B，因为盗窃公私财物数额较大的构成盗窃罪。",
        "正确选项：B",
        "正确的是B",
        "选B",
        "我选B。",
        "应选B",
        "选择B",
        "答：B",
        "答案应该是B",
        "答案是选项B",
        "[正确答案]B<eoa>",
        "[正确答案]B",
        "B选项",
        "B选项正确",
        "B项正确",
        "B是正确的",
        "选项A是错误的，B正确。",
        "The answer is B",
        "The answer is B.",
        "The correct answer is (B).",
        "the answer is b.",
        "Answer: (b)",
        "Answer: B) 盗窃公私财物，数额较大的",
        "ANSWER: B",
        "I would choose B.",
        "I'd go with B",
        "Option B is correct.",
        "B is the correct answer.",
        "B. 盗窃公私财物，数额较大的",
        "B) 盗窃",
        "B: 盗窃公私财物",
        "B、盗窃公私财物",
        "(B) 盗窃公私财物，数额较大的",
        "I think B.",
        "根据事实[1]，故选B。",
        "$\\boxed{B}$",
        "The final answer is $\\boxed{B}$.",
        "<think>A looks plausible, but C does not.</think>B",
        "答案是B<|im_end|>",
        "B</s>",
        "答案是B，C选项错误。",
        "盗窃公私财物，数额较大的",
        "盗窃公私财物，数额较大的。",
        "A is wrong; B is correct.",
        "答案不是题中所说的，选B",
        "B\n\n解析：A项错误，C项错误。",
        "B\nA is wrong because it names the wrong crime.",
        "Not A, the answer is B",
        "Answer: B. Option A is wrong because",
    ],
)
def test_a_reply_that_asserts_b_reads_as_b(reply):
    assert parse_letter(reply, OPTIONS) == "B"


@pytest.mark.parametrize(
    "reply",
    [
        "A or B",
        "A和B都对",
        "A、B正确",
        "A和B正确",
        "答案是A或B",
        "答案是AB",
        "答案：A、B",
        "答案是A/B",
        "The answer is B or C.",
        "The answer is B and D.",
        "The answer is A, B.",
        "Both A and B are correct.",
        "答案是A。不对，答案是B。",
        "A. 故意杀人的\nB. 盗窃公私财物",  # the options echoed back
        "A contract is void. B is also void. C too.",
        "A is wrong, so B",  # "A is wrong" names A as much as "so B" names B
        "A or B? B.",
    ],
)
def test_two_letters_asserted_are_no_answer(reply):
    reading = read_letter(reply, OPTIONS)
    assert reading.letter is None
    assert reading.reason is not None and reading.reason.startswith("the reply names more than one option")


@pytest.mark.parametrize(
    "reply",
    [
        "",
        "   ",
        "<think>I need to weigh A against B",  # cut off while still thinking
        "I don't know.",
        "A contract is void when it violates the law.",
        "The answer is a bit unclear.",
        "The answer is",
        "答案不确定。",
        "都不对",
        "None of the above.",
        "Paris is the capital of France, not Rome.",  # names an option's text among other words
        "The DNA test decides it.",
        "答案是DNA检测",
        "[1] 中华人民共和国刑法 第二百六十四条",
    ],
)
def test_a_reply_without_a_letter_is_no_answer(reply):
    reading = read_letter(reply, OPTIONS)
    assert reading.letter is None and reading.reason in ("empty reply", "no option letter in the reply")


@pytest.mark.parametrize("reply", ["E", "答案是E", "The answer is (F).", "选E"])
def test_a_letter_that_is_not_an_option_is_never_picked(reply):
    reading = read_letter(reply, OPTIONS)
    assert reading.letter is None
    assert reading.reason is not None and "not an option" in reading.reason


def test_letters_outside_the_options_do_not_count_as_a_second_answer():
    assert parse_letter("The U.S. view: B", LETTERS) == "B"
    assert parse_letter("答案是B", ["A", "B"]) == "B"
    assert parse_letter("C", ["A", "B"]) is None


def test_option_text_is_matched_only_when_the_options_are_given():
    assert parse_letter("Paris", OPTIONS) == "C"
    assert parse_letter("paris.", OPTIONS) == "C"
    assert parse_letter("Paris", LETTERS) is None


def test_the_english_article_and_pronoun_are_not_letters():
    assert parse_letter("A good reason points to D", LETTERS) == "D"
    assert parse_letter("I think it is D", LETTERS) == "D"
    assert parse_letter("A", LETTERS) == "A"
    assert parse_letter("A.", LETTERS) == "A"


def test_a_chinese_question_gets_the_options_one_a_line_and_a_chinese_instruction():
    prompt = letter_prompt("刑法第二百六十四条的内容是", {"A": "甲", "B": "乙"})
    assert prompt == f"刑法第二百六十四条的内容是\n\nA. 甲\nB. 乙\n\n{INSTRUCTION_ZH}"
    assert letter_prompt("What is the capital of France?", {"A": "Paris"}).endswith(
        f"\n\nA. Paris\n\n{INSTRUCTION_EN}"
    )


def test_the_options_are_added_to_the_last_user_turn_and_the_system_turn_is_kept():
    messages = [ChatMessage("system", "Be brief."), ChatMessage("user", "Capital of France?")]
    asked = letter_messages(messages, {"A": "Paris", "B": "Rome"})
    assert asked[0] == messages[0]
    assert asked[1] == ChatMessage("user", f"Capital of France?\n\nA. Paris\nB. Rome\n\n{INSTRUCTION_EN}")
    assert len(asked) == 2
