"""Independent benchmarks through `kgft serve` as a judge sends them: a plain OpenAI chat client.

Each item is ONE user message composed as the benchmark's own scripts compose it (instruction and
options in the text), `model=<route>`, temperature 0 and no kgft extension fields (no `domain`, no
`options`); each reply is scored by the benchmark's own extraction rule (bench/chat_scorers.py). So the
figures are what an outside evaluator would see, unlike `kgft eval`, which hands routes parsed options.

The server is a real `kgft serve` subprocess on a free port with a temporary KGFT_HOME (or --home):
the legal graph (and with --domains medical, CMeKG) is ingested first, and an API key with a large
budget is created with `kgft keys create`, so auth runs as in production.

Prompts (zero-shot):
* LexEval 1_1, 1_2, 3_1: `instruction + input + "\\n答案:"` (code/generation/model_gen.py process_prompt,
  Chatgpt_gen.py sends it as one user message at temperature 0).
* PubMedQA: `Abstract: <contexts>\\nQuestion: <question>\\nAnswer:` (lm-evaluation-harness pubmedqa; the
  PubMedQA repo only scores labels), with the options named: "Answer with yes, no or maybe."
* BiomixQA MCQ / true-false: KG_RAG's prompt-based system prompt (MCQ_QUESTION_PROMPT_BASED,
  TRUE_FALSE_QUESTION_PROMPT_BASED) followed by `Question: <text>`, put into the one user message since
  a plain single-message client has no system turn; MCQ options are the CSV's "Given list is: …".

Answers are cached in <run-dir>/answers.jsonl per (set, item, route), so a killed run resumes.

Usage: python bench/chat_benchmarks.py [--data-dir ../shared/data] [--sets lexeval-1_2,pubmedqa]
       [--routes kg,ft,llm] [--limit 100] [--domains legal,medical] [--home DIR] [--run-dir DIR] [--fresh]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.chat_scorers import extract
from eval.stats import mean_interval, percentiles

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "results" / "chat_benchmarks.json"
CMEKG = "medical/kg/cmekg"
CHARGES, CASES = "legal/charges", "legal/cases"
BENCH_KEY_RPM = 10**9  # the limiter still runs on every request; it just never refuses
BENCH_KEY_BUDGET_USD = "1000000"
READY_TIMEOUT_S = 900.0  # the ft route loads a transformers model before /readyz turns 200
REQUEST_TIMEOUT_S = 600.0  # longer than the gateway's own route timeout, so its 504 is what we see

# LexEval code/generation/model_gen.py: zero-shot input ends in "\n答案:".
LEXEVAL_TRAILER = "\n答案:"
# KG_RAG system_prompts.yaml, the prompt-based (no KG context) variants, verbatim.
BIOMIX_MCQ_INSTRUCTION = (
    "You are an expert biomedical researcher. Please provide your answer in the following JSON format "
    'for the Question asked:\n{\n  "answer": <correct answer>\n}\n'
)
BIOMIX_TF_INSTRUCTION = (
    "You are an expert biomedical researcher. Please provide your answer in the following JSON format "
    'for the Question asked:\n{\n  "answer": "True"\n}\nOR\n{\n  "answer": "False"\n}\n'
)


@dataclass(frozen=True)
class BenchItem:
    set_name: str
    item_id: str  # as eval/datasets names it, so the hash order matches `kgft eval --limit`
    prompt: str
    gold: str  # what the benchmark's scorer compares with: letters, a label or an option's text
    kind: str  # which scorer in bench/chat_scorers.py


@dataclass
class Reply:
    set_name: str
    item_id: str
    route: str
    status: int
    content: str
    model: str | None
    latency_ms: float
    cost_usd: str | None
    error: str | None
    commit: str
    # what the body's `kgft` object says (a plain client receives it too): for diagnosis only
    kgft: dict | None = None


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def lexeval(file: str, name: str) -> Callable[[Path], list[BenchItem]]:
    def load(data_dir: Path) -> list[BenchItem]:
        rows = _jsonl(data_dir / "legal/eval/lexeval" / file)
        return [
            BenchItem(
                name,
                f"{name}/{number}",
                row["instruction"] + row["input"] + LEXEVAL_TRAILER,
                row["answer"].strip(),
                "lexeval",
            )
            for number, row in enumerate(rows, start=1)
        ]

    return load


def pubmedqa(data_dir: Path) -> list[BenchItem]:
    records = json.loads((data_dir / "medical/eval/pubmedqa/ori_pqal.json").read_text("utf-8"))
    items = []
    for pmid, record in records.items():
        context = " ".join(part.strip() for part in record["CONTEXTS"])
        prompt = (
            f"Abstract: {context}\nQuestion: {record['QUESTION'].strip()}\n"
            "Answer with yes, no or maybe.\nAnswer:"
        )
        items.append(BenchItem("pubmedqa", f"pubmedqa/{pmid}", prompt, record["final_decision"], "pubmedqa"))
    return items


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def biomix(file: str, name: str, instruction: str, gold_column: str) -> Callable[[Path], list[BenchItem]]:
    """One BiomixQA CSV: KG_RAG's prompt-based instruction, then the question; items by row number."""

    def load(data_dir: Path) -> list[BenchItem]:
        rows = _csv(data_dir / "medical/eval/biomixqa" / file)
        return [
            BenchItem(
                name,
                f"{name}/{number}",
                instruction + "Question: " + row["text"],
                row[gold_column].strip(),
                name,
            )
            for number, row in enumerate(rows, start=1)
        ]

    return load


SETS: dict[str, Callable[[Path], list[BenchItem]]] = {
    "lexeval-1_1": lexeval("1_1.json", "lexeval-1_1"),
    "lexeval-1_2": lexeval("1_2.json", "lexeval-1_2"),
    "lexeval-3_1": lexeval("3_1.json", "lexeval-3_1"),
    "pubmedqa": pubmedqa,
    "biomixqa-mcq": biomix("mcq_questions.csv", "biomixqa-mcq", BIOMIX_MCQ_INSTRUCTION, "correct_node"),
    "biomixqa-tf": biomix("true_false_questions.csv", "biomixqa-tf", BIOMIX_TF_INSTRUCTION, "label"),
}


def spread(items: list[BenchItem], limit: int) -> list[BenchItem]:
    """The first `limit` items by sha256 of their id: eval/datasets' `_spread`, the same on every run."""
    return sorted(items, key=lambda item: hashlib.sha256(item.item_id.encode("utf-8")).hexdigest())[:limit]


def git_commit() -> dict[str, object]:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    served = ["gateway", "kgft", "kg_route", "ft_route"]  # the code `kgft serve` runs
    return {
        "commit": git("rev-parse", "HEAD"),
        "served_code_dirty": bool(git("status", "--porcelain", *served)),
    }


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _kgft() -> str:
    beside = Path(sys.executable).parent / "kgft"
    return str(beside) if beside.exists() else "kgft"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run_kgft(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([_kgft(), *args], env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"`kgft {' '.join(args)}` failed:\n{done.stderr.strip()}")
    return done.stdout.strip()


@contextmanager
def gateway(
    home: Path, routes: list[str], domains: list[str], data_dir: Path, console: Console, log: Path
) -> Iterator[tuple[str, str, dict[str, float]]]:
    """A `kgft serve` on a free port over graphs ingested into `home`: (base URL, API key, setup seconds)."""
    env = os.environ | {"KGFT_HOME": str(home)}
    setup: dict[str, float] = {}
    for domain in domains:
        started = time.perf_counter()
        args = ["ingest", domain] + (["--source", str(data_dir / CMEKG)] if domain == "medical" else [])
        _run_kgft(env, *args)
        console.print(f"kgft {' '.join(args)}: {time.perf_counter() - started:.1f} s", highlight=False)
        setup[f"ingest_{domain}_s"] = round(time.perf_counter() - started, 1)
        if domain == "legal" and (data_dir / CHARGES).is_dir():
            # The crime layer, its precedents cleaned against every eval set by the ingest itself.
            started = time.perf_counter()
            crime = [
                "ingest",
                "charges",
                "--source",
                str(data_dir / CHARGES),
                "--cases",
                str(data_dir / CASES),
            ]
            _run_kgft(env, *crime)
            setup["ingest_charges_s"] = round(time.perf_counter() - started, 1)
    key_name = f"chat-bench-{os.getpid()}-{time.time_ns()}"
    key = _run_kgft(
        env, "keys", "create", key_name, "--rpm", str(BENCH_KEY_RPM), "--budget-usd", BENCH_KEY_BUDGET_USD
    )
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    command = [_kgft(), "serve", "--port", str(port), "--routes", ",".join(routes)]
    started = time.perf_counter()
    with log.open("ab") as sink:
        server = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=sink, stderr=sink, start_new_session=True
        )
    try:
        _wait_ready(base, server, log)
        setup["serve_ready_s"] = round(time.perf_counter() - started, 1)
        console.print(f"kgft serve {base} ready in {setup['serve_ready_s']} s (routes {','.join(routes)})")
        yield base, key, setup
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def _wait_ready(base: str, server: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"kgft serve exited with {server.returncode}; see {log}")
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise SystemExit(f"kgft serve not ready after {READY_TIMEOUT_S:.0f} s; see {log}")


_KGFT_KEPT = ("model", "choice", "abstained", "abstain_reason", "options_from", "fallback")


def ask(client: httpx.Client, key: str, route: str, item: BenchItem, commit: str) -> Reply:
    """One chat completion exactly as the openai client sends it: POST /v1/chat/completions, JSON body."""
    body = {"model": route, "messages": [{"role": "user", "content": item.prompt}], "temperature": 0}
    started = time.perf_counter()
    try:
        response = client.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})
    except httpx.HTTPError as exc:
        latency_ms = (time.perf_counter() - started) * 1000
        return Reply(item.set_name, item.item_id, route, 0, "", None, latency_ms, None, repr(exc), commit)
    latency_ms = (time.perf_counter() - started) * 1000
    try:
        payload = response.json()
    except ValueError:
        payload = {}
    if response.status_code != 200:
        error = (payload.get("error") or {}).get("message") or response.text[:300]
        return Reply(
            item.set_name,
            item.item_id,
            route,
            response.status_code,
            "",
            None,
            latency_ms,
            None,
            error,
            commit,
        )
    content = payload["choices"][0]["message"].get("content") or ""
    cost = response.headers.get("x-kgft-cost-usd") or ((payload.get("kgft") or {}).get("cost") or {}).get(
        "runtime_usd"
    )
    extension = payload.get("kgft") or {}
    kgft = {key: extension.get(key) for key in _KGFT_KEPT if key in extension}
    return Reply(
        item.set_name,
        item.item_id,
        route,
        200,
        content,
        payload.get("model"),
        latency_ms,
        cost,
        None,
        commit,
        kgft,
    )


def summarize(items: list[BenchItem], replies: dict[tuple[str, str, str], Reply], route: str) -> dict:
    """One (set, route) cell: accuracy with a bootstrap 95% CI, abstention, latency, $/query, models."""
    rows = [(item, replies[(item.set_name, item.item_id, route)]) for item in items]
    readings = [extract(item.kind, reply.content) for item, reply in rows]
    correct = [reading == item.gold for reading, (item, _) in zip(readings, rows, strict=True)]
    accuracy = mean_interval([float(hit) for hit in correct])
    costs = [Decimal(reply.cost_usd) for _, reply in rows if reply.cost_usd is not None]
    latencies = [reply.latency_ms for _, reply in rows]
    errors: dict[str, int] = {}
    for _, reply in rows:
        if reply.status != 200:
            label = f"{reply.status}: {(reply.error or '')[:80]}"
            errors[label] = errors.get(label, 0) + 1
    return {
        "n": len(rows),
        "correct": sum(correct),
        "accuracy": accuracy.estimate,
        "ci95": [accuracy.low, accuracy.high],
        "abstention_rate": sum(reading is None for reading in readings) / len(rows),
        "empty_reply_rate": sum(not reply.content.strip() for _, reply in rows) / len(rows),
        "http_errors": errors,
        "latency_ms": {key: round(value, 1) for key, value in percentiles(latencies, (50, 95)).items()},
        "cost_per_query_usd": format(sum(costs, Decimal(0)) / len(costs), "f") if costs else None,
        "priced_replies": len(costs),
        "models": sorted({reply.model for _, reply in rows if reply.model}),
        "kgft_models": sorted({str((reply.kgft or {}).get("model")) for _, reply in rows if reply.kgft}),
        "kgft_abstained_rate": sum(bool((reply.kgft or {}).get("abstained")) for _, reply in rows)
        / len(rows),
        "options_from_text_rate": sum((reply.kgft or {}).get("options_from") == "text" for _, reply in rows)
        / len(rows),
        "examples": [
            {"item": item.item_id, "gold": item.gold, "reply": reply.content[:200], "read": reading}
            for (item, reply), reading in list(zip(rows, readings, strict=True))[:3]
        ],
    }


def markdown_table(results: dict[str, dict[str, dict]]) -> str:
    lines = [
        "| set | route | n | accuracy [95% CI] | abstention | p50 / p95 latency | $/query | model |",
        "|---|---|--:|---|--:|---|--:|---|",
    ]
    for set_name, by_route in results.items():
        for route, cell in by_route.items():
            low, high = cell["ci95"]
            cost = cell["cost_per_query_usd"]
            latency = cell["latency_ms"]
            cells = [
                set_name,
                route,
                str(cell["n"]),
                f"{cell['accuracy']:.1%} [{low:.1%}, {high:.1%}]",
                f"{cell['abstention_rate']:.0%}",
                f"{latency['p50']:.0f} / {latency['p95']:.0f} ms",
                "—" if cost is None else "$" + format(Decimal(cost), ".3g"),
                ", ".join(cell["models"]),
            ]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _load_cache(path: Path) -> dict[tuple[str, str, str], Reply]:
    if not path.exists():
        return {}
    cached = {}
    for row in _jsonl(path):
        reply = Reply(**row)
        cached[(reply.set_name, reply.item_id, reply.route)] = reply
    return cached


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    parser.add_argument(
        "--routes", default="kg,ft,llm", help="the `model` names sent, and `kgft serve --routes`"
    )
    parser.add_argument("--limit", type=int, default=100, help="items per set, in hash order")
    parser.add_argument(
        "--route-limits", default="", help="fewer items for slow routes, e.g. llm=10,ft=5 (of --limit)"
    )
    parser.add_argument("--domains", default="legal,medical", help="graphs ingested before serving")
    parser.add_argument("--home", type=Path, default=None, help="KGFT_HOME (default: a temporary one)")
    parser.add_argument("--run-dir", type=Path, default=ROOT / "runs" / "chat-benchmarks")
    parser.add_argument("--fresh", action="store_true", help="ignore answers cached in the run folder")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()

    sets = [name.strip() for name in args.sets.split(",") if name.strip()]
    routes = [name.strip() for name in args.routes.split(",") if name.strip()]
    domains = [name.strip() for name in args.domains.split(",") if name.strip()]
    unknown = [name for name in sets if name not in SETS] + [
        d for d in domains if d not in ("legal", "medical")
    ]
    if unknown:
        raise SystemExit(f"unknown set or domain: {', '.join(unknown)}")
    caps = {
        route: int(cap)
        for route, _, cap in (pair.partition("=") for pair in args.route_limits.split(",") if pair)
    }
    console = Console(stderr=True)
    items = {name: spread(SETS[name](args.data_dir), args.limit) for name in sets}

    def chosen(name: str, route: str) -> list[BenchItem]:
        return items[name][: caps.get(route, args.limit)]

    args.run_dir.mkdir(parents=True, exist_ok=True)
    cache_path = args.run_dir / "answers.jsonl"
    cached = {} if args.fresh else _load_cache(cache_path)
    if args.fresh:
        cache_path.unlink(missing_ok=True)
    todo = [
        (route, item)
        for route in routes
        for name in sets
        for item in chosen(name, route)
        if (item.set_name, item.item_id, route) not in cached
    ]
    version = git_commit()
    pairs = sum(len(chosen(name, route)) for name in sets for route in routes)
    console.print(f"{len(todo)} requests to send, {pairs - len(todo)} cached")
    setup: dict[str, float] = {}
    wall_started = time.perf_counter()
    if todo:
        with tempfile.TemporaryDirectory(prefix="kgft-chat-bench-") as scratch:
            home = args.home or Path(scratch)
            with (
                gateway(home, routes, domains, args.data_dir, console, args.run_dir / "serve.log") as (
                    base,
                    key,
                    setup,
                ),
                httpx.Client(base_url=base, timeout=REQUEST_TIMEOUT_S) as client,
                cache_path.open("a", encoding="utf-8") as sink,
                progress_bar(console) as progress,
            ):
                task = progress.add_task("chat", total=len(todo))
                for route, item in todo:
                    progress.update(task, description=f"{route} {item.set_name}")
                    reply = ask(client, key, route, item, str(version["commit"]))
                    cached[(item.set_name, item.item_id, route)] = reply
                    sink.write(json.dumps(asdict(reply), ensure_ascii=False) + "\n")
                    sink.flush()
                    progress.advance(task)
    results = {
        name: {route: summarize(chosen(name, route), cached, route) for route in routes} for name in sets
    }
    report = {
        "bench": "chat_benchmarks",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **version,
        "commits_answered_at": sorted({reply.commit for reply in cached.values()}),
        "settings": {
            "sets": sets,
            "routes": routes,
            "limit_per_set": args.limit,
            "route_limits": caps,
            "domains_ingested": domains,
            "client": f"httpx {httpx.__version__}, OpenAI chat wire format (no openai package)",
            "request": {"messages": "one user message", "temperature": 0, "extension_fields": "none"},
            "auth": "a `kgft keys create` key, rpm 1e9, budget $1e6",
            "order": "sha256 of the item id (eval/datasets _spread), first --limit",
            "ci": "bootstrap percentile 95% (eval/stats.mean_interval, 10,000 resamples)",
            "env": {k: v for k, v in os.environ.items() if k.startswith("KGFT_") and "KEY" not in k},
        },
        "setup_s": setup,
        "wall_s": round(time.perf_counter() - wall_started, 1),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(markdown_table(results))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
