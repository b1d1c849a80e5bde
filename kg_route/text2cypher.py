"""Text2Cypher: a model writes the query (LangChain's GraphCypherQAChain), kgft decides whether it runs.

The second strategy beside FactRetriever's linking + fixed queries. It returns a Retrieval too, so
both are compared by one code path. Nothing the model writes reaches the graph unless
`read_only_cypher` accepts it, and then only inside the store's read transaction.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import date
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseLanguageModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGeneration, LLMResult
from langchain_core.prompts import PromptTemplate
from langchain_core.tracers.context import register_configure_hook
from langchain_neo4j import GraphCypherQAChain
from langchain_neo4j.chains.graph_qa.cypher_utils import CypherQueryCorrector
from langchain_neo4j.chains.graph_qa.prompts import CYPHER_QA_PROMPT

from kg_route.cypher_guard import DEFAULT_LIMIT, UnsafeCypherError, read_only_cypher
from kg_route.facts import Fact
from kg_route.integrations.langchain_graph import ReadOnlyGraph
from kg_route.retrieval import Retrieval
from kgft.graph_store import GraphStore, GraphStoreError

SOURCE = "text2cypher"
# A small model goes on to invent the next few-shot example; its query ends where that begins.
_NEXT_EXAMPLE = "\nQuestion:"
# Rows come back in the query's own order; there is no relevance score to give them.
_ROW_SCORE = 1.0
# Few-shot examples in kgft's shape: a small model copies their form far more reliably than a rule.
_EXAMPLES = (
    (
        "阑尾炎的常见症状有哪些？",
        "MATCH (d:Node {name: '阑尾炎'})-[r:REL {type: '常见症状'}]->(s:Node) "
        "RETURN s.id AS id, s.name AS name LIMIT 20",
    ),
    (
        "中华人民共和国刑法第二百三十二条规定了什么？",
        "MATCH (a:Node {kind: 'Article', name: '中华人民共和国刑法第二百三十二条'}) "
        "RETURN a.id AS id, a.text AS text LIMIT 5",
    ),
)
_SHOTS = "".join(f"Question: {question}\nCypher: {cypher}\n\n" for question, cypher in _EXAMPLES)
CYPHER_PROMPT = PromptTemplate.from_template(
    "Task: write one read-only Cypher query that answers the question from this graph.\n"
    "Schema:\n{schema}\n"
    "Match entities by their exact `name`. Return the node's id as `id` and what answers the question.\n"
    "Answer with the Cypher query only, no explanation.\n\n"
    + _SHOTS.replace("{", "{{").replace("}", "}}")
    + "Question: {question}\nCypher:"
)


@dataclass(frozen=True)
class CypherRetrieval(Retrieval):
    """A Retrieval (no links: nothing is linked) that also says what the model wrote and what became of it."""

    generated: str  # the model's reply, as written
    cypher: str | None  # the checked query that ran; None when it was refused or not reached
    outcome: str  # "ran" | "rejected" (by the guard) | "failed" (by the engine)
    reason: str  # why there are no facts; "" when there are
    prompt_tokens: int
    completion_tokens: int


class ReadOnlyCypherGuard(CypherQueryCorrector):
    """GraphCypherQAChain's correction step used as a gate: the query that may run, or UnsafeCypherError."""

    def __init__(self) -> None:
        super().__init__(schemas=[])

    def __call__(self, query: str) -> str:
        return read_only_cypher(query)


class Text2CypherRetriever:
    """Question → model-written Cypher → checked → read → facts, one per distinct node or row."""

    def __init__(self, store: GraphStore, llm: BaseLanguageModel, max_facts: int = 12) -> None:
        graph = ReadOnlyGraph(store)
        self.max_facts = max_facts
        self.chain = GraphCypherQAChain(
            graph=graph,
            graph_schema=graph.get_schema,
            cypher_generation_chain=CYPHER_PROMPT | llm.bind(stop=[_NEXT_EXAMPLE]) | StrOutputParser(),
            qa_chain=CYPHER_QA_PROMPT | llm | StrOutputParser(),  # required, never called: return_direct
            cypher_query_corrector=ReadOnlyCypherGuard(),
            return_direct=True,
            return_intermediate_steps=True,
            top_k=DEFAULT_LIMIT,  # every row the default LIMIT lets through; facts are cut once deduplicated
            # The chain's opt-in; the safety is the guard above and ReadOnlyGraph's read transaction.
            allow_dangerous_requests=True,
        )

    def retrieve(self, question: str, as_of: date | None = None) -> CypherRetrieval:
        """The model's query over every law version: `as_of` cannot steer Cypher the model writes, and a
        dated question's facts may come from any version (their sources name it)."""
        started = time.perf_counter()
        model = _ModelReplies()
        cypher, rows, outcome, reason = None, [], "ran", ""
        listening = _listener.set(model)
        try:
            result = self.chain.invoke({"query": question})
            cypher, rows = result["intermediate_steps"][0]["query"], result["result"]
        except UnsafeCypherError as exc:
            outcome, reason = "rejected", str(exc)
        except GraphStoreError as exc:
            outcome, reason = "failed", str(exc)
        finally:
            _listener.reset(listening)
        facts = facts_from_rows(rows)[: self.max_facts]
        if outcome == "ran" and not facts:
            reason = "the query returned no rows"
        return CypherRetrieval(
            links=[],
            facts=facts,
            retrieval_ms=(time.perf_counter() - started) * 1000,
            generated=model.text,
            cypher=cypher,
            outcome=outcome,
            reason=reason,
            prompt_tokens=model.prompt_tokens,
            completion_tokens=model.completion_tokens,
        )


def facts_from_rows(rows: list[dict[str, Any]]) -> list[Fact]:
    """One fact per distinct id, in row order: a node's id where the row has one, else a hash of the row."""
    facts: dict[str, Fact] = {}
    for row in rows:
        fact = Fact(_row_id(row), _row_text(row), SOURCE, _ROW_SCORE)
        facts.setdefault(fact.id, fact)
    return list(facts.values())


def _row_id(row: dict[str, Any]) -> str:
    if isinstance(row.get("id"), str):
        return row["id"]
    for value in row.values():
        if isinstance(value, dict) and isinstance(value.get("id"), str):  # a whole node came back
            return value["id"]
    digest = hashlib.sha256(json.dumps(row, ensure_ascii=False, sort_keys=True, default=str).encode())
    return f"{SOURCE}:{digest.hexdigest()[:16]}"


def _row_text(row: dict[str, Any]) -> str:
    """A lone column is the fact ("发热"); several keep their names ("d.name: 阑尾炎; s.name: 发热")."""
    shown = {key: _plain(value) for key, value in row.items() if key != "id"}
    if len(shown) == 1:
        return next(iter(shown.values()))
    return "; ".join(f"{key}: {text}" for key, text in shown.items()) or _plain(row.get("id"))


def _plain(value: Any) -> str:
    """A node reads as its text (articles) or name (entities); a list as its items joined."""
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("text") or value.get("name") or json.dumps(value, ensure_ascii=False))
    if isinstance(value, list | tuple):
        return "、".join(_plain(item) for item in value)
    return str(value)


class _ModelReplies(BaseCallbackHandler):
    """What the model wrote and the tokens it reported, gathered as the chain runs."""

    def __init__(self) -> None:
        self.text = ""
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generation in (g for batch in response.generations for g in batch):
            self.text += generation.text
            usage = generation.message.usage_metadata if isinstance(generation, ChatGeneration) else None
            if usage:
                self.prompt_tokens += usage["input_tokens"]
                self.completion_tokens += usage["output_tokens"]


# GraphCypherQAChain drops per-call callbacks before its generation step reaches the model, so the
# listener rides on a context variable, LangChain's own hook for this (as in get_usage_metadata_callback).
_listener: ContextVar[_ModelReplies | None] = ContextVar("kgft_text2cypher_listener", default=None)
register_configure_hook(_listener, inheritable=True)
