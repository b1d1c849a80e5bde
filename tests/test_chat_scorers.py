"""The benchmarks' own scorers, as bench/chat_benchmarks.py applies them to chat replies."""

from __future__ import annotations

import pytest

from bench.chat_scorers import (
    biomix_mcq_answer,
    biomix_true_false,
    extract,
    is_correct,
    lexeval_letters,
    pubmedqa_label,
)


@pytest.mark.parametrize(
    ("reply", "letters"),
    [
        ("B", "B"),
        ("答案：B", "B"),
        ("[正确答案]B<eoa>", "B"),
        ("A、B、D", "ABD"),
        ("A,B和D", "ABD"),
        ("B. 父母与子女间的关系，不因父母离婚而消除", "B"),
        ("BD。解析：A项错误，C项错误", "BD"),  # the explanation after 解析 is not read
        ("AAB", ""),  # a run with a repeated letter is dropped whole, as upstream
        ("DA", "DA"),  # order of appearance is kept
        ("I think the answer is B", "B"),  # "I" and "T" are not A-E
        ("DNA test: C", "DAC"),  # any capital A-E counts, even inside a word
        ("父母与子女间的关系", ""),
        ("", ""),
    ],
)
def test_lexeval_reads_letters_as_its_scorer_does(reply: str, letters: str) -> None:
    assert lexeval_letters(reply) == letters


def test_lexeval_is_an_exact_string_match_against_the_gold() -> None:
    assert is_correct("lexeval", "A、D", "AD")
    assert not is_correct("lexeval", "D、A", "AD")  # upstream compares strings, not sets
    assert not is_correct("lexeval", "A", "AD")
    assert not is_correct("lexeval", "ABD", "AD")
    assert extract("lexeval", "没有答案") is None


@pytest.mark.parametrize(
    ("reply", "label"),
    [
        ("yes", "yes"),
        ("Yes, mitochondria play a role.", "yes"),
        ("Answer: no", "no"),
        ("Maybe; the evidence is mixed, not a clear yes", "maybe"),
        ("The notion is unclear", None),  # "not" and "unclear" hold no label word
        ("", None),
    ],
)
def test_pubmedqa_reads_the_first_label_word(reply: str, label: str | None) -> None:
    assert pubmedqa_label(reply) == label


@pytest.mark.parametrize(
    ("reply", "answer"),
    [
        ('{\n  "answer": "HLA-B"\n}', "HLA-B"),
        ('{"answer": "NOD2"}', "NOD2"),
        ("HLA-B", "HLA-B"),
        ("HLA-B\nbecause it is shared", "HLA-B"),
        ('"answer": HLA-B', "HLA-B"),
    ],
)
def test_biomix_mcq_reads_the_json_answer(reply: str, answer: str) -> None:
    assert biomix_mcq_answer(reply) == answer


def test_biomix_mcq_compares_option_text_not_letters() -> None:
    assert is_correct("biomixqa-mcq", '{"answer": "HLA-B"}', "HLA-B")
    assert not is_correct("biomixqa-mcq", "B", "HLA-B")
    assert extract("biomixqa-mcq", "") is None


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [
        ('{"answer": "True"}', "True"),
        ("False", "False"),
        ("True. It is True.", "True"),
        ("True or False? False", None),  # the first two disagree
        ("Don't know", None),
        ("true", None),  # upstream is case-sensitive
        ("", None),
    ],
)
def test_biomix_true_false_as_kg_rag_reads_it(reply: str, verdict: str | None) -> None:
    assert biomix_true_false(reply) == verdict
