"""KG route accuracy on LexEval 1_2 and retrieval latency over the full statutes + CMeKG; writes JSON.

Accuracy: `reader=lexical` on all 1,000 questions, and the SmolLM2 `llm` reader on the first --llm-limit.
Article recall: the asked article (found without the linker: its "第X条" is the one asked and its text
holds the gold option) is among the answer's citations.
Latency: FactRetriever.retrieve() p50/p99 on Ladybug, and on ArcadeDB over Bolt with --bolt.

Usage: python bench/kg_answers.py [--data DIR] [--llm-limit N] [--llm-backend SPEC] [--bolt] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kg_route.factory import linker_from_store
from kg_route.ingest import ingest_legal, ingest_medical
from kg_route.retrieval import FactRetriever
from kg_route.route import KGRoute
from kg_route.store import open_store
from kgft.contract import Question
from kgft.graph_store import GraphStore
from kgft.pricing import PriceBook
from kgft.settings import Settings

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
_OPTION = re.compile(r"^([A-D])[:：]\s*(.*)$")
_ASKED_NUMBER = re.compile(r"(第[零一二三四五六七八九十百千]+条)的内容是")
_GOLD_ARTICLE = (
    "MATCH (a:Node) WHERE a.kind = 'Article' AND a.name ENDS WITH $number AND a.text CONTAINS $gold "
    "RETURN a.id AS id"
)
SEED = 20240601


def lexeval(data: Path) -> list[tuple[Question, str]]:
    items = []
    lines = (data / "legal/eval/lexeval/1_2.json").read_text("utf-8").splitlines()
    for number, line in enumerate(lines):
        row = json.loads(line)
        stem, *rest = row["input"].split("\n")
        options = {m.group(1): m.group(2).strip() for m in map(_OPTION.match, rest) if m}
        question = Question(id=f"lexeval-1_2-{number}", text=stem, domain="legal", options=options)
        items.append((question, row["answer"].strip()))
    return items


def gold_article(store: GraphStore, question: Question, gold: str) -> str | None:
    asked = _ASKED_NUMBER.search(question.text)
    options = question.options or {}
    if asked is None or gold not in options:
        return None
    rows = store.read(_GOLD_ARTICLE, {"number": asked.group(1), "gold": options[gold]})
    return rows[0]["id"] if len(rows) == 1 else None


def accuracy(route: KGRoute, store: GraphStore, items: list[tuple[Question, str]]) -> dict[str, Any]:
    correct = cited = with_gold = abstained = 0
    total_usd = 0
    started = time.perf_counter()
    for question, gold in items:
        answer = route.answer(question)
        correct += answer.choice == gold
        abstained += answer.abstained
        total_usd += answer.cost.runtime_usd
        article = gold_article(store, question, gold)
        if article is not None:
            with_gold += 1
            cited += any(citation.id == article for citation in answer.citations)
    seconds = time.perf_counter() - started
    return {
        "questions": len(items),
        "accuracy": round(correct / len(items), 4),
        "article_recall": round(cited / max(1, with_gold), 4),
        "questions_with_unique_gold_article": with_gold,
        "abstained": abstained,
        "runtime_usd_per_question": str(total_usd / len(items)),
        "seconds": round(seconds, 1),
    }


def medical_questions(store: GraphStore, n: int) -> list[str]:
    rows = store.read(
        "MATCH (d:Node)-[r:REL]->(:Node) WHERE d.kind = $kind AND r.type = $relation "
        "RETURN DISTINCT d.name AS name",
        {"kind": "Disease", "relation": "常见症状"},
    )
    names = sorted(row["name"] for row in rows)
    return [f"{name}的常见症状有哪些？" for name in random.Random(SEED).sample(names, min(n, len(names)))]


def latency(retriever: FactRetriever, questions: list[str]) -> dict[str, Any]:
    for question in questions[:50]:  # warm caches and the engine's plan cache
        retriever.retrieve(question)
    timings = sorted(retriever.retrieve(question).retrieval_ms for question in questions)
    return {
        "questions": len(timings),
        "p50_ms": round(statistics.median(timings), 3),
        "p99_ms": round(timings[int(0.99 * (len(timings) - 1))], 3),
        "max_ms": round(timings[-1], 3),
    }


def build(store: GraphStore, data: Path, settings: Settings, prices: PriceBook) -> dict[str, Any]:
    legal = ingest_legal(store, None, settings, prices, progress=False)
    medical = ingest_medical(store, data / "medical/kg/cmekg", settings, prices, progress=False)
    nodes, edges = store.counts()
    return {
        "nodes": nodes,
        "edges": edges,
        "legal_ingest_s": round(legal.seconds, 1),
        "medical_ingest_s": round(medical.seconds, 1),
    }


def bolt_latency(data: Path, settings: Settings, prices: PriceBook, questions: list[str]) -> dict[str, Any]:
    """The same retrieval on ArcadeDB's Bolt server, started here the way the tests start it."""
    root = Path(tempfile.mkdtemp(prefix="kgft-arcadedb-"))
    serve = Path(__file__).resolve().parents[1] / "tests" / "arcadedb_serve.py"
    bolt, http = _free_port(), _free_port()
    command = [sys.executable, str(serve), str(root), str(bolt), str(http), "kgft-bench-pw", "kgft"]
    server = subprocess.Popen(command, cwd=root, stdin=subprocess.PIPE)
    try:
        deadline = time.time() + 120
        while not (root / "ready").exists():
            if time.time() > deadline or server.poll() is not None:
                raise RuntimeError("ArcadeDB did not start")
            time.sleep(0.5)
        store = open_store(f"bolt://127.0.0.1:{bolt}", "root", "kgft-bench-pw")
        built = build(store, data, settings, prices)
        retriever = FactRetriever(store, linker_from_store(store, settings))
        result = built | latency(retriever, questions)
        store.close()
        return result
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=60)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _save(report: dict[str, Any], out: Path) -> None:
    """Written after every section, so a late failure keeps the figures already measured."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--llm-limit", type=int, default=200)
    parser.add_argument("--llm-backend", default="hf:smollm2")
    parser.add_argument("--bolt", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("bench/results/kg_answers.json"))
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="kgft-bench-"))
    settings = Settings(home=home, graph=f"ladybug:{home / 'graph'}")
    prices = PriceBook.load()
    store = open_store(settings.graph_url)
    built = build(store, args.data, settings, prices)
    retriever = FactRetriever(store, linker_from_store(store, settings))
    items = lexeval(args.data)
    questions = [question.text for question, _ in items] + medical_questions(store, 500)
    report: dict[str, Any] = {
        "benchmark": "kg_answers",
        "machine": f"{platform.machine()}, python {platform.python_version()}",
        "graph": built,
        "lexeval_1_2_lexical": accuracy(KGRoute(retriever, settings, prices), store, items),
        "retrieval_ladybug": latency(retriever, questions),
    }
    _save(report, args.out)
    if args.llm_limit:
        llm_settings = settings.model_copy(update={"kg_reader": "llm", "kg_backend": args.llm_backend})
        report[f"lexeval_1_2_llm_{args.llm_backend}"] = accuracy(
            KGRoute(retriever, llm_settings, prices), store, items[: args.llm_limit]
        )
        _save(report, args.out)
    store.close()
    if args.bolt:
        report["retrieval_arcadedb_bolt"] = bolt_latency(args.data, settings, prices, questions)
        _save(report, args.out)
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
