"""Facts → charges on held-out CAIL2018 cases, and LexEval 3_1 through the KG route; writes JSON.

Held-out split: the cases left after the contamination check (LexEval 1_1, 1_2, 3_1), shuffled with
random.Random(SEED) and the first HELD_OUT_SHARE taken out before ingestion: they are never in the graph.
Dev split, the only one the ranker was tuned on (kg_route/charges/index.py): the in-graph cases in id
order, shuffled with random.Random(DEV_SEED), the first DEV_SHARE ranked against an index of the other
in-graph cases (`ChargeIndex.from_store(exclude=...)`); its figures are reported next to the held-out ones.

Per held-out case: the predicted charge set (charge nodes, CAIL labels resolved through the provisions'
renames) against the gold set. Accuracy = the sets are equal; top-1 = the best charge is a gold one;
macro-F1 over the charges present in the held-out gold; article F1 = per-case F1 of the predicted
charges' 刑法 articles against `relevant_articles`, averaged (and micro); an "N之一" article counts as N,
as CAIL labels it. 95% CIs by bootstrap over cases.
LexEval 3_1: each item as a user sends it (instruction + input as one text, options read out of it as
the gateway does), answered by the KG route with the lexical reader (no model call).

Usage: python bench/kg_charges.py [--data DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from eval.stats import mean_interval, percentiles
from kg_route.charges import ChargeIndex
from kg_route.charges.facts import ChargeFacts
from kg_route.factory import linker_from_store
from kg_route.ingest import ingest_legal
from kg_route.ingest.charges import ingest_charges
from kg_route.retrieval import FactRetriever
from kg_route.route import KGRoute
from kg_route.store import open_store
from kgft.contamination import default_eval_sets, load_eval_stems
from kgft.contract import Question
from kgft.options_in_text import find_options
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.sources.cases import CaseRecord, case_files, clean_cases, read_cases

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SEED = 2018
HELD_OUT_SHARE = 0.15
DEV_SEED = 7
DEV_SHARE = 0.15  # of the in-graph cases
RESAMPLES = 2_000


def split(cases: list[CaseRecord]) -> tuple[list[CaseRecord], list[CaseRecord]]:
    order = list(range(len(cases)))
    random.Random(SEED).shuffle(order)
    size = round(HELD_OUT_SHARE * len(cases))
    held = set(order[:size])
    return [c for i, c in enumerate(cases) if i not in held], [cases[i] for i in sorted(held)]


def dev_split(graph_cases: list[CaseRecord]) -> list[CaseRecord]:
    """The tuning split: DEV_SHARE of the in-graph cases (in id order, as the graph returns them)."""
    ordered = sorted(graph_cases, key=lambda case: case.id)
    order = list(range(len(ordered)))
    random.Random(DEV_SEED).shuffle(order)
    return [ordered[i] for i in sorted(order[: round(DEV_SHARE * len(ordered))])]


def write_cases(folder: Path, cases: list[CaseRecord]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    rows = (
        {"fact": c.fact, "meta": {"accusation": list(c.charges), "relevant_articles": list(c.articles)}}
        for c in cases
    )
    (folder / "graph_cases.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n"
    )
    return folder


def macro_f1(predicted: list[set[str]], gold: list[set[str]]) -> float:
    tp, fp, fn = Counter(), Counter(), Counter()
    for p, g in zip(predicted, gold, strict=True):
        tp.update(p & g)
        fp.update(p - g)
        fn.update(g - p)
    labels = {label for g in gold for label in g}
    return float(np.mean([2 * tp[x] / (2 * tp[x] + fp[x] + fn[x]) for x in labels]))


def macro_interval(predicted: list[set[str]], gold: list[set[str]]) -> dict[str, float]:
    rng = np.random.default_rng(0)
    n = len(gold)
    draws = [
        macro_f1([predicted[i] for i in idx], [gold[i] for i in idx])
        for idx in rng.integers(0, n, (RESAMPLES, n))
    ]
    low, high = np.percentile(draws, [2.5, 97.5])
    return {
        "estimate": round(macro_f1(predicted, gold), 4),
        "low": round(float(low), 4),
        "high": round(float(high), 4),
    }


def interval(values: list[float]) -> dict[str, float]:
    found = mean_interval(values, resamples=RESAMPLES)
    return {"estimate": round(found.estimate, 4), "low": round(found.low, 4), "high": round(found.high, 4)}


def set_f1(predicted: set[int], gold: set[int]) -> float:
    if not predicted and not gold:
        return 1.0
    return 2 * len(predicted & gold) / (len(predicted) + len(gold))


def article_number(article_id: str) -> int | None:
    """The 刑法 article number CAIL's relevant_articles would write: "…:264" → 264, "…:133之一" → 133
    (CAIL has integers only, so a 之一 article is labelled with its base number)."""
    number = article_id.rsplit(":", 1)[-1].split("之")[0]
    return int(number) if number.isdigit() else None


def held_out_figures(index: ChargeIndex, held: list[CaseRecord]) -> dict[str, Any]:
    resolve = {name: charge.name for charge in index.charges for name in (charge.name, *charge.aliases)}
    predicted, gold, exact, top1, art_f1, latency, abstained = [], [], [], [], [], [], 0
    art_tp = art_pred = art_gold = 0
    for case in held:
        ranking = index.rank(case.fact)
        latency.append(ranking.retrieval_ms)
        abstained += ranking.abstain_reason is not None
        names = {hit.name for hit in ranking.predicted}
        truth = {resolve.get(label, label) for label in case.charges}
        predicted.append(names)
        gold.append(truth)
        exact.append(float(names == truth))
        top1.append(float(bool(ranking.hits) and ranking.hits[0].name in truth))
        cited = {n for n in (article_number(a.id) for a in ranking.articles) if n is not None}
        art_f1.append(set_f1(cited, set(case.articles)))
        art_tp, art_pred, art_gold = (
            art_tp + len(cited & set(case.articles)),
            art_pred + len(cited),
            art_gold + len(case.articles),
        )
    lat = percentiles(latency, (50, 99))
    return {
        "cases": len(held),
        "charges_in_gold": len({x for g in gold for x in g}),
        "abstained": abstained,
        "accuracy_exact_set": interval(exact),
        "accuracy_top1": interval(top1),
        "macro_f1": macro_interval(predicted, gold),
        "article_f1_per_case": interval(art_f1),
        "article_f1_micro": round(2 * art_tp / (art_pred + art_gold), 4),
        "latency_ms": {"p50": round(lat["p50"], 3), "p99": round(lat["p99"], 3)},
    }


def lexeval_figures(route: KGRoute, path: Path) -> dict[str, Any]:
    rows = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    correct, by_kind, latency, abstained, by_charges = [], {}, [], 0, 0
    for number, row in enumerate(rows, start=1):
        text = f"{row['instruction']}{row['input']}"  # one message, as a user pastes it
        parsed = find_options(text)
        if parsed is None:
            correct.append(0.0)
            continue
        answer = route.answer(
            Question(id=f"3_1/{number}", text=parsed.stem, domain="legal", options=parsed.options)
        )
        right = float(answer.choice == row["answer"].strip())
        correct.append(right)
        kind = "criminal" if parsed.options.get(row["answer"].strip(), "").endswith("罪") else "civil"
        by_kind.setdefault(kind, []).append(right)
        latency.append(answer.timings.retrieval_ms)
        abstained += answer.abstained
        by_charges += bool(answer.diagnostics.get("charge_options"))
    lat = percentiles(latency, (50, 99))
    return {
        "items": len(rows),
        "accuracy": interval(correct),
        "by_kind": {kind: {"items": len(v), "accuracy": interval(v)} for kind, v in sorted(by_kind.items())},
        "abstained": abstained,
        "answered_from_charge_ranking": by_charges,
        "retrieval_ms": {"p50": round(lat["p50"], 3), "p99": round(lat["p99"], 3)},
        "reader": "lexical (charge options read from the ranking; no model call)",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "kg_charges.json")
    args = parser.parse_args()
    legal = args.data / "legal"
    eval_sets = default_eval_sets("legal", args.data)
    stems = [stem for path in eval_sets for stem in load_eval_stems(path)]
    read = read_cases(case_files(legal / "cases"))
    clean = clean_cases(read.cases, stems, [str(path) for path in eval_sets])
    graph_cases, held = split(clean.kept)
    with tempfile.TemporaryDirectory(prefix="kgft-charges-") as tmp:
        home = Path(tmp)
        settings = Settings(home=home, threads=2, graph=f"ladybug:{home / 'graph'}")
        prices = PriceBook.load()
        store = open_store(settings.graph_url)
        legal_ingest = ingest_legal(store, None, settings, prices, progress=False)
        layer = ingest_charges(
            store,
            legal / "charges",
            write_cases(home / "cases", graph_cases),
            settings,
            prices,
            eval_sets=eval_sets,
            progress=False,
        )
        build_started = time.perf_counter()
        index = ChargeIndex.from_store(store)
        build_s = time.perf_counter() - build_started
        no_precedents = ChargeIndex.from_store(store, use_precedents=False)
        dev = dev_split(graph_cases)
        dev_index = ChargeIndex.from_store(store, exclude=frozenset(case.id for case in dev))
        retriever = FactRetriever(
            store, linker_from_store(store, settings), charges=ChargeFacts(store, index)
        )
        route = KGRoute(retriever, settings, prices, reader="lexical")
        result = {
            "machine": f"{platform.processor() or platform.machine()}, {settings.threads} threads",
            "split": {
                "seed": SEED,
                "held_out_share": HELD_OUT_SHARE,
                "cases_read": read.rows_read,
                "dropped_overlapping_eval": len(clean.report.contaminated_ids),
                "in_graph": layer.cases_kept,
                "held_out": len(held),
                "dev_seed": DEV_SEED,
                "dev_share_of_in_graph": DEV_SHARE,
                "dev": len(dev),
                "tuned_on": "dev only (ranked against the other in-graph cases); held-out measured once",
            },
            "graph": {
                "charges": layer.charges,
                "statute_ingest_s": round(legal_ingest.seconds, 2),
                "crime_layer_ingest_s": round(layer.summary.seconds, 2),
                "index_build_s": round(build_s, 2),
            },
            "dev_kg_with_precedents": held_out_figures(dev_index, dev),
            "held_out_kg_with_precedents": held_out_figures(index, held),
            "held_out_kg_articles_only": held_out_figures(no_precedents, held),
            "lexeval_3_1_kg_route": lexeval_figures(route, args.data / "legal/eval/lexeval/3_1.json"),
            "targets": {"macro_f1": 0.80, "accuracy": 0.90, "article_f1": 0.80, "p50_ms": 5, "p99_ms": 20},
        }
        store.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
