"""Entity linker: numerals, article references, alias rules, and recall on the real statutes and CMeKG."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from bench.kg_linking import disease_questions, lexeval_questions, read_jsonl, statute_articles
from kg_route.linking import EntityLinker, Link, NameEntry, find_article_refs, int_to_zh, zh_to_int
from kg_route.linking.embedding import EmbeddingIndex
from kg_route.linking.sources import cmekg_graph, linker_inputs, statute_nodes, subject_ids
from kgft.graph_store import EdgeRow, NodeRow

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_data = pytest.mark.skipif(
    not DATA.is_dir(), reason=f"real statutes and CMeKG live in {DATA}, which this checkout lacks"
)


# --- numerals ---------------------------------------------------------------------------------


def test_every_number_to_3000_survives_a_round_trip_through_chinese():
    assert [zh_to_int(int_to_zh(n)) for n in range(1, 3001)] == list(range(1, 3001))


@pytest.mark.parametrize(
    ("number", "chinese"),
    [
        (10, "十"),
        (11, "十一"),
        (20, "二十"),
        (110, "一百一十"),
        (232, "二百三十二"),
        (1004, "一千零四"),
        (1084, "一千零八十四"),
        (10010, "一万零一十"),
        (100000, "十万"),
        (1200000, "一百二十万"),
    ],
)
def test_numbers_are_written_the_way_statutes_number_articles(number, chinese):
    assert int_to_zh(number) == chinese
    assert zh_to_int(chinese) == number


def test_colloquial_numerals_read_too():
    assert zh_to_int("两千") == 2000
    assert zh_to_int("一百十") == 110
    assert zh_to_int("二〇二〇") == 2020
    assert zh_to_int("一亿二千万") == 120_000_000
    assert zh_to_int("零") == 0


@pytest.mark.parametrize("text", ["", "三十四五", "刑法"])
def test_non_numerals_raise(text):
    with pytest.raises(ValueError, match="not a Chinese numeral"):
        zh_to_int(text)


def test_article_references_in_chinese_arabic_and_full_width_digits():
    text = "依照第二百三十二条、第232条和第１０８４条，以及第十七条之一"
    refs = find_article_refs(text)
    assert [(ref.number, ref.sub) for ref in refs] == [(232, 0), (232, 0), (1084, 0), (17, 1)]
    spans = [text[ref.start : ref.end] for ref in refs]
    assert spans == ["第二百三十二条", "第232条", "第１０８４条", "第十七条之一"]


# --- linker rules on hand-made entries -----------------------------------------------------------

CRIMINAL = NameEntry("law:criminal", "Law", "中华人民共和国刑法", ("刑法",), rank=1)
ARTICLES = {
    ("law:criminal", 232): "article:criminal:232",
    ("law:criminal", 234): "article:criminal:234",
    ("law:criminal", "120之一"): "article:criminal:120之一",
}


def test_article_follows_its_law_across_brackets_and_lists_only():
    linker = EntityLinker([CRIMINAL], ARTICLES)
    linked = linker.link("《刑法》第二百三十二条、第234条")
    assert [(link.node_id, link.how, link.start, link.end) for link in linked] == [
        ("law:criminal", "name", 1, 3),
        ("article:criminal:232", "article", 4, 11),
        ("article:criminal:234", "article", 12, 17),
    ]
    assert linked[1].name == "中华人民共和国刑法第二百三十二条"
    # other words between the law and the reference cut the tie
    assert [link.how for link in linker.link("刑法规定了很多，比如第232条")] == ["name"]


def test_an_inserted_article_links_by_its_own_key_not_the_base_number():
    linker = EntityLinker([CRIMINAL], {**ARTICLES, ("law:criminal", 120): "article:criminal:120"})
    article = linker.link("刑法第一百二十条之一")[1]
    assert (article.node_id, article.name) == (
        "article:criminal:120之一",
        "中华人民共和国刑法第一百二十条之一",
    )
    assert [link.node_id for link in linker.link("刑法第二百三十二条之一")] == ["law:criminal"]


def test_a_bare_article_reference_links_nothing():
    assert EntityLinker([CRIMINAL], ARTICLES).link("第232条说的是什么？") == []


def test_full_width_text_links_with_spans_in_the_original_question():
    question = "ＡＢ刑法第２３２条"
    article = EntityLinker([CRIMINAL], ARTICLES).link(question)[1]
    assert article.node_id == "article:criminal:232"
    assert question[article.start : article.end] == "第２３２条"


def test_shared_names_go_to_the_higher_rank_or_to_nobody():
    old = NameEntry("law:old", "Law", "中华人民共和国商标法", ("商标法",), rank=0)
    new = NameEntry("law:new", "Law", "中华人民共和国商标法", ("商标法",), rank=1)
    herb_a = NameEntry("cmekg:甲", "Drug", "甲草药", ("黄头草",))
    herb_b = NameEntry("cmekg:乙", "Drug", "乙草药", ("黄头草",))
    disease = NameEntry("cmekg:腹泻", "Disease", "腹泻", ("拉肚子",))
    linker = EntityLinker([old, new, herb_a, herb_b, disease], {})
    assert [link.node_id for link in linker.link("商标法和黄头草")] == ["law:new"]
    assert [link.node_id for link in linker.link("拉肚子")] == ["cmekg:腹泻"]


def test_single_characters_generic_words_and_measurements_never_link():
    names = ["痣", "工作", "10", "6岁", "5mg", "发症"]  # 发症: a fragment node hiding inside 并发症
    entries = [NameEntry(f"cmekg:{name}", "Symptom", name) for name in names]
    assert EntityLinker(entries, {}).link("痣会影响工作吗？6岁孩子10天吃5mg有什么并发症") == []


def test_longest_name_wins_where_names_overlap():
    entries = [NameEntry(f"cmekg:{name}", "Disease", name) for name in ("阑尾炎", "急性阑尾炎")]
    assert [link.name for link in EntityLinker(entries, {}).link("急性阑尾炎怎么办")] == ["急性阑尾炎"]


def test_fallback_runs_only_when_no_name_links():
    guess = Link("cmekg:腹泻", "Disease", "腹泻", 0, 3, "embedding", 0.9)
    linker = EntityLinker([CRIMINAL], ARTICLES, fallback=lambda question: [guess])
    assert linker.link("肚子疼") == [guess]
    assert [link.how for link in linker.link("刑法")] == ["name"]


# --- the real statutes and CMeKG ------------------------------------------------------------------


@pytest.fixture(scope="module")
def laws() -> dict[str, str]:
    """Current law id by name (the one version with status 现行有效 where a name has two)."""
    rows = list(read_jsonl(DATA / "legal/statutes/laws.jsonl"))
    return {row["law_name"]: row["law_id"] for row in rows if row["status"] != "历史版本"}


@pytest.fixture(scope="module")
def graph() -> tuple[list[NodeRow], list[EdgeRow]]:
    """Every node and CMeKG edge ingestion plans from the shared data."""
    medical_nodes, medical_edges = cmekg_graph(DATA / "medical/kg/cmekg")
    return [*statute_nodes(DATA / "legal/statutes"), *medical_nodes], list(medical_edges)


@pytest.fixture(scope="module")
def inputs(graph) -> tuple[list[NameEntry], dict]:
    return linker_inputs(graph[0])


@pytest.fixture(scope="module")
def linker(inputs) -> EntityLinker:
    return EntityLinker(*inputs)


@needs_data
@pytest.mark.parametrize(
    ("question", "law", "article"),
    [
        ("刑法第232条规定了什么？", "中华人民共和国刑法", 232),
        ("民法典第一千零八十四条的内容是", "中华人民共和国民法典", 1084),
        ("中华人民共和国民法第1084条", "中华人民共和国民法典", 1084),
        ("中华人民共和国刑法第２３２条", "中华人民共和国刑法", 232),
        ("商标法第十条", "中华人民共和国商标法", 10),
        ("刑法第一百二十条之一", "中华人民共和国刑法", "120之一"),
    ],
)
def test_law_aliases_link_the_asked_article(linker, laws, question, law, article):
    linked = {link.node_id for link in linker.link(question)}
    assert {f"law:{laws[law]}", f"article:{laws[law]}:{article}"} <= linked


@needs_data
def test_the_older_of_two_same_named_laws_never_wins_the_name(inputs):
    rows = list(read_jsonl(DATA / "legal/statutes/laws.jsonl"))
    trademark = [entry for entry in inputs[0] if entry.name == "中华人民共和国商标法"]
    assert {entry.node_id: entry.rank for entry in trademark} == {
        f"law:{row['law_id']}": int(row["status"] == "现行有效")
        for row in rows
        if row["law_name"] == "中华人民共和国商标法"
    }
    assert len(trademark) == 2


@needs_data
def test_every_statute_article_number_reads_as_its_arabic_number():
    pairs = [
        (row["article_no"], row["article_no_arabic"])
        for row in statute_articles(DATA)
        if row["article_no_arabic"] is not None and row["article_no"].endswith("条")
    ]
    assert len(pairs) > 25_000
    assert [zh_to_int(text[1:-1]) for text, _ in pairs] == [number for _, number in pairs]


@needs_data
def test_first_200_lexeval_questions_link_their_article(linker):
    questions = lexeval_questions(DATA)[:200]
    missed = [q[:30] for q, gold in questions if gold not in {link.node_id for link in linker.link(q)}]
    assert missed == []


@needs_data
def test_100_sampled_diseases_link_in_a_symptom_question(linker, graph):
    questions = disease_questions(graph[1], sample=100)
    missed = [q for q, gold in questions if gold not in {link.node_id for link in linker.link(q)}]
    assert missed == []


@needs_data
def test_questions_without_names_link_nothing(linker):
    assert linker.link("今天的工作环境和时间安排怎么样？") == []


@needs_data
def test_colloquial_alias_from_cmekg_links_the_disease(linker):
    # 拉肚子 is a 别称 of the subject 腹泻 in CMeKG
    assert [(link.node_id, link.how) for link in linker.link("拉肚子吃什么药")] == [("cmekg:腹泻", "name")]


# --- embedding fallback ----------------------------------------------------------------------------


@needs_data
def test_embedding_finds_the_disease_a_paraphrase_means_and_caches_vectors(graph, inputs, linker, tmp_path):
    # no CMeKG name in either question; among all 6,276 disease subjects these are the nearest too
    expected = {"掉头发很厉害怎么办": "脱发", "肚子一直疼": "腹痛"}
    assert [linker.link(question) for question in expected] == [[], []]
    subjects = subject_ids(graph[1])
    diseases = [entry for entry in inputs[0] if entry.kind == "Disease" and entry.node_id in subjects]
    rivals = [entry for entry in diseases if "脱" in entry.name or "腹" in entry.name]
    entries = list(
        {entry.node_id: entry for entry in [*rivals, *random.Random(7).sample(diseases, 150)]}.values()
    )
    assert len(entries) > 200

    index = EmbeddingIndex.build(entries, tmp_path)
    for question, disease in expected.items():
        best = index.nearest(question, k=3)
        assert best[0].name == disease
        assert best[0].how == "embedding" and best[0].score > best[1].score > best[2].score
    assert index.nearest("肚子一直疼", k=3, min_score=0.99) == []

    (vectors_path,) = tmp_path.glob("names-*.npy")
    (ids_path,) = tmp_path.glob("names-*.ids.json")
    assert len(json.loads(ids_path.read_text(encoding="utf-8"))) == len(entries)
    np.save(vectors_path, np.zeros_like(index.vectors))  # a rebuild must read this file, not embed again
    assert not EmbeddingIndex.build(entries, tmp_path).vectors.any()
