"""Options written into one plain message, as benchmarks and apps send MCQ, and the reply format they ask."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kgft.options_in_text import AnswerTemplate, answer_template, fill, find_options

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LEXEVAL = DATA / "legal" / "eval" / "lexeval"
LAWYER_LLAMA = DATA / "legal" / "train" / "lawyer-llama"
CASES = DATA / "legal" / "cases"
ROWS = 200  # per file: enough to meet every shape in it, quick to read


def lines_of(path: Path, rows: int = ROWS) -> list[dict]:
    if not path.exists():
        pytest.skip(f"{path} is absent (see ../shared/data/README.md)")
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for _, line in zip(range(rows), handle, strict=False)]


def json_list(path: Path) -> list[dict]:
    if not path.exists():
        pytest.skip(f"{path} is absent (see ../shared/data/README.md)")
    return json.loads(path.read_text("utf-8"))


@pytest.mark.parametrize(
    ("text", "stem", "options"),
    [
        (  # LexEval as an app sends it: instruction, question, options inline, the answer cue
            "以下是一道法律选择题，请选出正确答案。\n问题：下列哪一行为构成故意犯罪？\n"
            "A:甲过失致人死亡;B:乙故意杀人;C:丙过失引起火灾;D:丁意外事件\n答案：",
            "以下是一道法律选择题，请选出正确答案。\n问题：下列哪一行为构成故意犯罪？\n答案：",
            {"A": "甲过失致人死亡", "B": "乙故意杀人", "C": "丙过失引起火灾", "D": "丁意外事件"},
        ),
        (
            "中华人民共和国刑法第二百三十二条的内容是:\nA： 盗窃公私财物，数额较大的\nB： 故意杀人的，处死刑",
            "中华人民共和国刑法第二百三十二条的内容是:",
            {"A": "盗窃公私财物，数额较大的", "B": "故意杀人的，处死刑"},
        ),
        (
            "下列说法正确的是：\nA．正当防卫不负刑事责任\nB．紧急避险一律免责\nC．醉酒的人犯罪不负刑事责任",
            "下列说法正确的是：",
            {"A": "正当防卫不负刑事责任", "B": "紧急避险一律免责", "C": "醉酒的人犯罪不负刑事责任"},
        ),
        (  # MedQA-like lines, and a stem that starts with the article "A"
            "A 45-year-old man has crushing chest pain. What is the first drug to give?\n"
            "A. Aspirin\nB. Heparin\nC. Alteplase\nD. Metoprolol\nAnswer:",
            "A 45-year-old man has crushing chest pain. What is the first drug to give?\nAnswer:",
            {"A": "Aspirin", "B": "Heparin", "C": "Alteplase", "D": "Metoprolol"},
        ),
        (
            "下列哪一科室诊治阑尾炎？\nA、普外科\nB、皮肤科\nC、消化内科",
            "下列哪一科室诊治阑尾炎？",
            {"A": "普外科", "B": "皮肤科", "C": "消化内科"},
        ),
        (
            "Which drug lowers LDL cholesterol? (A) atorvastatin (B) aspirin (C) insulin (D) heparin",
            "Which drug lowers LDL cholesterol?",
            {"A": "atorvastatin", "B": "aspirin", "C": "insulin", "D": "heparin"},
        ),
        ("下列哪项属于犯罪？（A）盗窃 （B）借款", "下列哪项属于犯罪？", {"A": "盗窃", "B": "借款"}),
        ("Q: which one? A) one B) two C) three", "Q: which one?", {"A": "one", "B": "two", "C": "three"}),
        (  # "A." in an option's text and a dot in a number are not markers
            "剂量是多少？\nA. 0.5 mg\nB. 维生素A. 1 mg\nC. 2 mg",
            "剂量是多少？",
            {"A": "0.5 mg", "B": "维生素A. 1 mg", "C": "2 mg"},
        ),
    ],
)
def test_options_are_read_out_of_the_text_in_each_written_form(text, stem, options):
    parsed = find_options(text)
    assert parsed is not None
    assert parsed.stem == stem
    assert parsed.options == options


@pytest.mark.parametrize(
    "text",
    [
        "A公司与B公司签订买卖合同，约定B公司于五月交货。A公司能否解除合同？",
        "甲、乙共同盗窃，甲望风，乙入室。甲、乙构成何罪？",
        "Plan A: go home. Plan B: stay here. Which plan is better?",
        "A. 这是唯一的一项",  # one option is not a choice
        "下列哪一项正确？\nA. 甲\nC. 丙",  # letters not consecutive
        "下列哪一项正确？\nB. 乙\nC. 丙",  # not from A
        "请按“A. 是 B. 否”的格式回答：被告人有罪吗？",  # an example inside quotes
        'Reply in the form "A: yes B: no". Is theft a crime?',
        "A: 你好\nB: 你好，请问有什么事？\nA: 我想咨询离婚\nB: 请讲",  # a dialogue, not options
        "东至X：4331780，Y：18595911；西至X：4331566。该区域归谁管理？",
        "A、B两公司均未履行合同，A、B应如何承担责任？",
        "下列哪一项正确？\nA. 甲\nB. ",  # an empty option
        "A. 甲\nB. 乙",  # options and no question
        "请帮我写一份合同，包括以下条款：\nA. 付款方式\nB. 违约责任\n请详细展开。",  # prose asked
        "Draft a plan with two phases:\nA. research\nB. build\nExplain each phase in detail.",
    ],
)
def test_prose_that_mentions_letters_stays_an_open_question(text):
    assert find_options(text) is None


def test_an_enumeration_running_on_in_a_judgment_is_not_a_list_of_options():
    fact = "证实：A、瓦科公司于2011年登记设立。B、源某公司于2012年登记设立。C、仁某公司于2014年登记设立，" + (
        "经营范围五金交电、建筑材料等；" * 60
    )
    assert find_options(fact) is None


@pytest.mark.parametrize("name", ["1_1", "1_2", "3_1"])
def test_lexeval_inputs_parse_into_their_four_options_with_the_gold_among_them(name):
    rows = lines_of(LEXEVAL / f"{name}.json")
    for row in rows:
        for text in (row["input"], row["instruction"] + row["input"]):
            parsed = find_options(text)
            assert parsed is not None, text[-300:]
            assert list(parsed.options) == ["A", "B", "C", "D"]
            assert set(row["answer"]) <= set(parsed.options)
            assert parsed.stem == text[: text.index("\nA: ")].strip()


def test_lexeval_statute_options_are_the_article_texts_intact():
    row = lines_of(LEXEVAL / "1_2.json", 1)[0]
    parsed = find_options(row["input"])
    assert parsed is not None
    assert parsed.stem == "中华人民共和国民法第一千零八十四条的内容是:"
    assert parsed.options["B"] == "父母与子女间的关系，不因父母离婚而消除"


def test_jec_qa_exam_questions_parse_and_its_open_questions_do_not():
    rows = json_list(LAWYER_LLAMA / "fakao_gpt4.json")
    mcq = [row["input"] for row in rows if row["input"].startswith("Question:")]
    open_ended = [row["input"] for row in rows if not row["input"].startswith("Question:")]
    assert len(mcq) > 100 and len(open_ended) > 100
    assert all(len((find_options(text) or pytest.fail(text)).options) == 4 for text in mcq)
    assert [text for text in open_ended if find_options(text)] == []  # 甲、乙 and A公司 cases among them


def test_consultations_and_case_facts_are_not_read_as_mcq():
    queries = [row["query"] for row in json_list(LAWYER_LLAMA / "zixun_gpt4.json")]
    facts = [row["fact"] for row in lines_of(CASES / "cail2018_cases.part1.jsonl", 1000)]
    assert [text for text in queries + facts if find_options(text)] == []


@pytest.mark.parametrize(
    ("text", "template", "reply"),
    [
        (
            "请写在[正确答案]和<eoa>之间，例如：[正确答案]A<eoa>\n问题",
            AnswerTemplate("[正确答案]", "<eoa>", "letter"),
            "[正确答案]B<eoa>",
        ),
        (
            "答案写在【正确答案】和<eoa>之间",
            AnswerTemplate("【正确答案】", "<eoa>", "letter"),
            "【正确答案】B<eoa>",
        ),
        ("例如：[罪名]盗窃<eoa>", AnswerTemplate("[罪名]", "<eoa>", "text"), "[罪名]故意杀人罪<eoa>"),
        ("请以“答案：A”的格式作答", AnswerTemplate("答案：", "", "letter"), "答案：B"),
        ("问题……\n答案:", AnswerTemplate("答案: ", "", "letter"), "答案: B"),
        ("Reply as Answer: A", AnswerTemplate("Answer: ", "", "letter"), "Answer: B"),
        ("...\nD. Metoprolol\nAnswer:", AnswerTemplate("Answer: ", "", "letter"), "Answer: B"),
    ],
)
def test_the_reply_follows_the_format_the_instruction_shows(text, template, reply):
    assert answer_template(text) == template
    assert fill(template, "B", "故意杀人罪") == reply


@pytest.mark.parametrize(
    "text",
    [
        "请阅读以下选择题给出正确选项，不要解释原因。请只给出答案的序号。\n",  # LexEval: no format shown
        "答案：依据刑法第二百三十二条",  # "答案：" followed by prose, not a letter
        "The answer: Apple is a fruit.",
    ],
)
def test_text_without_a_shown_format_has_no_template(text):
    assert answer_template(text) is None


def test_without_a_template_the_reply_states_the_letter_once_with_its_text():
    assert fill(None, "B", "乙故意杀人") == "B. 乙故意杀人"
