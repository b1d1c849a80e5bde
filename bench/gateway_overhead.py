"""Gateway overhead: time spent in `kgft serve` per request, route work excluded; writes JSON.

Two measurements of the same quantity:

* default: the gateway with an instant route (real app, auth on, SQLite log) under uvicorn pinned to
  CPU 1, driven by wrk on CPU 0 at each concurrency, once with the route in the thread pool (as real
  routes run) and once inline. Reported: the gateway's `kgft_gateway_overhead_seconds` and
  `kgft_route_hop_seconds` histograms over the measured window, wrk's client latency, throughput and
  server CPU per request. Target: overhead p50 <= 1 ms, p99 <= 5 ms.
* --vs-litellm HARNESS: the shared gateway-overhead harness (wrk, fake OpenAI upstream, LiteLLM proxy),
  with kgft's `llm` route forwarding to the fake upstream, passes interleaved with LiteLLM's; overhead is
  client latency through the gateway minus latency straight to the upstream.

Usage: python bench/gateway_overhead.py [--conc 1,200] [--duration 10] [--warmup 3] [--out FILE]
       python bench/gateway_overhead.py --vs-litellm ../shared/bench/gateway-overhead --conc 1,50,200
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from gateway.keys import KeyTable
from kgft.contract import Answer, Cost, Question
from kgft.results_store import ResultStore

# Overhead excludes the wait on route calls; the hop to the route's thread and back is reported apart.
HISTOGRAMS = {"overhead_ms": "kgft_gateway_overhead_seconds", "route_hop_ms": "kgft_route_hop_seconds"}
SERVER_CPU, LOADGEN_CPU = "1", "0"
BENCH_KEY_RPM = 10**9  # the rate limiter still runs on every request, it just never refuses
REQUEST = {"model": "kg", "messages": [{"role": "user", "content": "刑法第二百三十二条规定了什么？"}]}

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
wrk.body = os.getenv("BENCH_BODY")
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok, bad = 0, 0 end
function response(status, headers, body)
  if status == 200 then ok = ok + 1 else bad = bad + 1 end
end
function done(summary, latency, requests)
  local t_ok, t_bad = 0, 0
  for _, th in ipairs(threads) do t_ok = t_ok + th:get("ok"); t_bad = t_bad + th:get("bad") end
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%d,"duration_s":%.3f,"ok":%d,"non200":%d,' ..
    '"socket_errors":%d,"p50_ms":%.3f,"p90_ms":%.3f,"p99_ms":%.3f,"max_ms":%.3f}\\n',
    summary.requests, summary.duration / 1e6, t_ok, t_bad, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000))
end
"""


class InstantRoute:
    """A route that answers at once, so everything the client waits for is the gateway's own work."""

    def __init__(self, name: str):
        self.name = name

    def answer(self, question: Question) -> Answer:
        return Answer(
            text="A. 故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑",
            choice="A",
            route=self.name,
            model="instant",
            cost=Cost(runtime_usd=Decimal(0), basis="benchmark route", priced=True),
        )

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(question) for question in questions]


def bench_key(store_url: str) -> str:
    """A fresh key in the results store the gateway under test reads (a new name each run, as a
    PostgreSQL store outlives the run)."""
    store = ResultStore(store_url)
    try:
        return KeyTable(store.engine).create(f"bench-{time.time_ns()}", BENCH_KEY_RPM, Decimal(1000))
    finally:
        store.close()


def serve(port: int, home: Path, inline: bool) -> None:
    """The server process: the real app with the instant route, as `kgft serve` runs it (one worker)."""
    import uvicorn

    from gateway.app import create_app
    from kgft.pricing import PriceBook
    from kgft.settings import Settings

    # The instant route may take as many calls at once as there are threads: queueing behind a
    # one-call gate would be route capacity, not gateway overhead.
    settings = Settings(home=home)
    settings = settings.model_copy(update={"gateway_route_concurrency": {"kg": settings.gateway_threads}})
    app = create_app(
        settings,
        PriceBook.load(),
        routes={"kg": InstantRoute("kg")},
        inline_routes=["kg"] if inline else (),
    )
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, access_log=False, log_level="warning")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_ready(base: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gateway at {base} not ready after {timeout_s:g} s")


@contextmanager
def _server(inline: bool) -> Iterator[tuple[str, str, int]]:
    """Starts the instant-route gateway on CPU 1; yields its URL, an API key and its pid."""
    with tempfile.TemporaryDirectory(prefix="kgft-bench-") as home:
        key = bench_key(f"sqlite:///{Path(home) / 'kgft.db'}")
        port = _free_port()
        command = [sys.executable, __file__, "--serve", str(port), "--home", home]
        command += ["--inline"] if inline else []
        env = os.environ | {"KGFT_HOME": home}
        process = subprocess.Popen(["taskset", "-c", SERVER_CPU, *command], env=env, start_new_session=True)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_ready(base)
            yield base, key, process.pid
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(30)


def _histograms(base: str) -> dict[str, dict[str, float]]:
    """Each gateway histogram's samples: cumulative buckets keyed by `le`, plus `sum` and `count`."""
    text = httpx.get(base + "/metrics", timeout=10).text
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name in HISTOGRAMS.values():
            found[family.name] = {
                sample.labels.get("le", sample.name.rsplit("_", 1)[1]): sample.value
                for sample in family.samples
            }
    missing = set(HISTOGRAMS.values()) - set(found)
    if missing:
        raise SystemExit(f"{sorted(missing)} missing from {base}/metrics")
    return found


def _summary(before: dict[str, float], after: dict[str, float]) -> dict:
    """Quantiles, mean and the share under 1/5/25 ms of one histogram over the measured window."""
    window = {name: after[name] - before.get(name, 0.0) for name in after}
    buckets = {
        float(name): value for name, value in window.items() if name not in ("sum", "count", "created")
    }
    count = window["count"]
    ms = {f"p{round(q * 100)}": histogram_quantile(q, buckets) for q in (0.5, 0.9, 0.99)}
    return {
        **{name: None if value is None else round(value * 1000, 3) for name, value in ms.items()},
        "mean": round(window["sum"] / count * 1000, 3) if count else None,
        "count": int(count),
        "share_within_ms": {
            f"{bound * 1000:g}": round(buckets[bound] / count, 4) if count else None
            for bound in (0.001, 0.005, 0.025)
        },
    }


def histogram_quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' estimate: linear within the bucket that holds the q-th observation; None past the top."""
    bounds = sorted(buckets)
    total = buckets[bounds[-1]]
    if total == 0:
        return None
    rank, lower, below = q * total, 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return None
            inside = buckets[bound] - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, buckets[bound]
    return None


def _wrk(url: str, key: str, concurrency: int, seconds: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    env = os.environ | {"BENCH_AUTH": f"Bearer {key}", "BENCH_BODY": json.dumps(REQUEST)}
    command = ["taskset", "-c", LOADGEN_CPU, "wrk", "-t1", f"-c{concurrency}", f"-d{seconds}s"]
    command += ["--timeout", "30s", "-s", script.name, url]
    try:
        run = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60)
    finally:
        os.unlink(script.name)
    for line in run.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line.removeprefix("BENCH_JSON "))
    raise SystemExit(f"wrk printed no summary (rc {run.returncode}): {run.stdout[-500:]} {run.stderr[-500:]}")


def measure(inline: bool, concurrencies: list[int], duration_s: int, warmup_s: int) -> list[dict]:
    points = []
    with _server(inline) as (base, key, pid):
        url = base + "/v1/chat/completions"
        for concurrency in concurrencies:
            _wrk(url, key, concurrency, warmup_s)
            before, cpu_before = _histograms(base), _cpu_s(pid)
            client = _wrk(url, key, concurrency, duration_s)
            after, cpu_after = _histograms(base), _cpu_s(pid)
            server = {label: _summary(before[metric], after[metric]) for label, metric in HISTOGRAMS.items()}
            answered = server["overhead_ms"]["count"]
            points.append(
                {
                    "concurrency": concurrency,
                    **server,
                    "client": client,
                    "rps": round(client["requests"] / client["duration_s"], 1),
                    "server_cpu_us_per_request": round((cpu_after - cpu_before) / answered * 1e6, 1)
                    if answered
                    else None,
                }
            )
            print(_row("inline" if inline else "thread", points[-1]))
    return points


def _row(dispatch: str, point: dict) -> str:
    server, hop, client = point["overhead_ms"], point["route_hop_ms"], point["client"]
    return (
        f"{dispatch:7} c={point['concurrency']:<4} overhead p50 {server['p50']} p99 {server['p99']} ms | "
        f"hop p50 {hop['p50']} p99 {hop['p99']} ms | "
        f"client p50 {client['p50_ms']} ms  p99 {client['p99_ms']} ms | {point['rps']} req/s | "
        f"{point['server_cpu_us_per_request']} µs CPU/req | non-200 {client['non200']}"
    )


def _host() -> dict:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    # uvicorn picks uvloop and httptools when importable, else asyncio and h11 (slower per request).
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    return {
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "uvicorn_loop": loop,
        "uvicorn_http": http,
        "load_average_1m": round(os.getloadavg()[0], 2),  # other work on the shared host, at the end
    }


def instant_route(args: argparse.Namespace) -> dict:
    concurrencies = [int(value) for value in args.conc.split(",")]
    results = {
        dispatch: measure(dispatch == "inline", concurrencies, args.duration, args.warmup)
        for dispatch in ("thread", "inline")
    }
    return {
        "benchmark": "gateway_overhead",
        "what": (
            "kgft gateway with an instant route. overhead_ms = kgft_gateway_overhead_seconds (time in the "
            "ASGI app less the wait on the route call and on the client's body); route_hop_ms = "
            "kgft_route_hop_seconds (that wait less route.answer itself: thread hop, gate, loop queueing). "
            "Quantiles are Prometheus-style estimates from the buckets over the measured window; means add "
            "up (overhead + hop = the gateway's time per request). client = wrk closed-loop latency, "
            "queueing included at high concurrency"
        ),
        "dispatch": {
            "thread": "route called in the gateway's thread pool, as real routes are "
            "(gateway_route_concurrency kg = gateway_threads = 32)",
            "inline": "route called on the event loop (create_app inline_routes), no thread hop",
        },
        "target_ms": {"p50": 1.0, "p99": 5.0},
        "layout": f"gateway (1 uvicorn worker) on CPU {SERVER_CPU}, wrk -t1 on CPU {LOADGEN_CPU}",
        "request": REQUEST,
        "auth": "on (Bearer key checked, rate limiter and budget run on every request)",
        "params": {"duration_s": args.duration, "warmup_s": args.warmup, "concurrency": concurrencies},
        "note": "2-core machine shared with other work while measured; short passes, one repeat each",
        "host": _host(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "results": results,
    }


def vs_litellm(args: argparse.Namespace) -> dict:
    """Interleaved passes of the shared harness (its own copy under /tmp: run.sh writes beside itself)."""
    scratch = Path(tempfile.mkdtemp(prefix="gwo-kgft-"))
    try:
        return _interleaved(args, scratch)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _interleaved(args: argparse.Namespace, scratch: Path) -> dict:
    harness = scratch / "harness"
    shutil.copytree(args.vs_litellm, harness)
    subprocess.run(["chmod", "-R", "u+w", str(harness)], check=True)
    subprocess.run(["bash", str(harness / "litellm" / "setup.sh")], check=True)
    home = scratch / "kgft-home"
    key = bench_key(args.db_url or f"sqlite:///{home / 'kgft.db'}")
    kgft = shutil.which("kgft", path=str(Path(sys.executable).parent)) or "kgft"
    db = f"KGFT_DB_URL='{args.db_url}' " if args.db_url else ""
    queue = max(int(value) for value in args.conc.split(","))

    def kgft_cmd(workers: int) -> str:
        return (
            f"KGFT_HOME={home} {db}KGFT_GATEWAY_DEFAULT=llm "
            "KGFT_LLM_BACKEND=openai:fake KGFT_OPENAI_BASE_URL=$GWO_UPSTREAM "
            f"KGFT_GATEWAY_ROUTE_CONCURRENCY='{{\"llm\": {args.llm_concurrency}}}' "
            # A queue as deep as wrk's load: measured is the gateway's overhead, not its backpressure
            # (each worker has its own route gate, so N workers would refuse sooner than one).
            f"KGFT_GATEWAY_ROUTE_QUEUE={queue} "
            f"exec {kgft} serve --port 8099 --routes llm --workers {workers}"
        )

    litellm_cmd = (
        f"GWO_LITELLM_WORKERS=1 GWO_LITELLM_PORT=4000 GWO_LITELLM_MASTER_KEY=sk-gwo-bench "
        f"exec {harness}/litellm/start.sh"
    )
    contenders = [
        ("litellm-1w", "http://127.0.0.1:4000", "fake", "Bearer sk-gwo-bench", litellm_cmd, SERVER_CPU)
    ]
    for workers in (int(value) for value in args.workers.split(",")):
        # One worker has CPU 1 to itself; more share both CPUs with wrk and the fake upstream.
        cpus = SERVER_CPU if workers == 1 else f"{LOADGEN_CPU},{SERVER_CPU}"
        contenders.append(
            (f"kgft-{workers}w", "http://127.0.0.1:8099", "llm", f"Bearer {key}", kgft_cmd(workers), cpus)
        )
    common = ["--duration", str(args.duration), "--warmup", str(args.warmup)]
    passes, postgres_cpu_s = [], {}
    # One concurrency per pass, contenders back to back: the host's slow and fast minutes fall on both
    # sides of each pair (LiteLLM's own passes ranged 41-124 req/s when a pass held every concurrency).
    for repeat in range(1, args.repeats + 1):
        for concurrency in args.conc.split(","):
            for label, target, model, auth, command, cpus in contenders:
                out = harness / "results" / f"cmp-{label}-r{repeat}-c{concurrency}.json"
                before = _postgres_cpu_s()
                subprocess.run(
                    [
                        "bash", str(harness / "run.sh"), "--target", target, "--model", model, "--auth", auth,
                        "--label", label, "--target-cmd", command, "--target-cpus", cpus, *common,
                        "--conc", concurrency, "--meta", f"repeat={repeat}", "--out", str(out),
                    ],
                    check=True,
                )  # fmt: skip
                postgres_cpu_s[out.name] = round(_postgres_cpu_s() - before, 2)
                passes.append(out)
    merged = harness / "merged.json"
    note = (
        f"kgft vs LiteLLM, interleaved per concurrency; --duration {args.duration} --warmup {args.warmup}, "
        "shared 2-core host"
    )
    subprocess.run(
        [sys.executable, str(harness / "gwo.py"), "merge", str(merged), *map(str, passes), "--note", note],
        check=True,
    )
    subprocess.run([sys.executable, str(harness / "gwo.py"), "table", str(merged)], check=True)
    result = json.loads(merged.read_text("utf-8"))
    result["postgres_cpu_s_per_pass"] = postgres_cpu_s
    result["kgft_vs_litellm"] = _ratios(result, postgres_cpu_s)
    result["kgft_settings"] = {
        "route": "llm (openai:fake -> the harness's fake upstream)",
        "gateway_route_concurrency": args.llm_concurrency,
        "auth": "on (kgft API key)",
        "limits": "shared: keys, rate window and spend in PostgreSQL (KGFT_DB_URL)"
        if args.db_url
        else "in process (SQLite results store)",
        "workers": {f"kgft-{w}w": "CPU 1" if w == "1" else "CPUs 0,1" for w in args.workers.split(",")},
        "host": _host(),
    }
    return result


def _postgres_cpu_s() -> float:
    """CPU seconds used so far by every PostgreSQL process (the server the shared limits live in)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if text.split("(", 1)[1].split(")", 1)[0] in ("postgres", "postmaster"):
            total += _cpu_s(int(stat.parent.name))
    return total


def _ratios(merged: dict, postgres_cpu_s: dict[str, float]) -> dict:
    """Per kgft variant and concurrency, against LiteLLM's pass of the same repeat and concurrency (run
    just before it): overhead p50/p99 ratios and requests per second per CPU core (the gateway's CPU;
    for kgft also PostgreSQL's during its pass), each ratio taken per pair, then the median of pairs."""
    points = {}  # (label, concurrency, repeat) -> (point, PostgreSQL CPU-seconds of its pass)
    for run in merged["passes"]:
        repeat = run["target"]["meta"]["repeat"]
        for point in run["points"]:
            pg_s = postgres_cpu_s.get(run["source_file"], 0.0)
            points[(run["target"]["label"], str(point["concurrency"]), repeat)] = (point, pg_s)
    found: dict[str, dict] = {}
    for (label, concurrency, repeat), (point, pg_s) in sorted(points.items()):
        theirs = points.get(("litellm-1w", concurrency, repeat))
        if not label.startswith("kgft") or theirs is None:
            continue
        other = theirs[0]
        their_per_core = _per_core(other, 0.0)
        pair = {
            "overhead_p50_ratio": point["overhead_ms"]["p50"] / other["overhead_ms"]["p50"],
            "overhead_p99_ratio": point["overhead_ms"]["p99"] / other["overhead_ms"]["p99"],
            "rps_per_core": _per_core(point, 0.0),
            "rps_per_core_with_postgres": _per_core(point, pg_s),
            "litellm_rps_per_core": their_per_core,
        }
        pair["rps_per_core_x_litellm"] = pair["rps_per_core"] / their_per_core
        pair["rps_per_core_with_postgres_x_litellm"] = pair["rps_per_core_with_postgres"] / their_per_core
        found.setdefault(label, {}).setdefault(concurrency, []).append(pair)
    by_variant = {
        label: {
            concurrency: {
                **{name: round(statistics.median(p[name] for p in pairs), 3) for name in pairs[0]},
                "pairs": len(pairs),
                "rps_per_core_with_postgres_x_litellm_each": [
                    round(p["rps_per_core_with_postgres_x_litellm"], 2) for p in pairs
                ],
            }
            for concurrency, pairs in by_concurrency.items()
        }
        for label, by_concurrency in found.items()
    }
    return {
        "by_variant": by_variant,
        "goal": "rps per core >= 10x LiteLLM's; overhead p50 <= 0.1x LiteLLM's",
        "how": "median over repeats of the ratio within each pair of back-to-back passes",
    }


def _per_core(point: dict, postgres_cpu_s: float) -> float:
    """Requests per CPU-second of the gateway, plus PostgreSQL's CPU over the pass when given."""
    target = point["target"]
    return target["wrk"]["requests"] / (target["target_cpu_s"] + postgres_cpu_s)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conc", default="1,200", help="comma-separated wrk concurrencies")
    parser.add_argument("--duration", type=int, default=10, help="measured seconds per point")
    parser.add_argument("--warmup", type=int, default=3, help="discarded seconds before each point")
    parser.add_argument("--vs-litellm", type=Path, metavar="HARNESS", help="the gateway-overhead harness")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved pass pairs (--vs-litellm)")
    parser.add_argument(
        "--llm-concurrency", type=int, default=32, help="llm route calls at once (<= gateway_threads, 32)"
    )
    parser.add_argument("--db-url", help="PostgreSQL URL: kgft's keys and limits shared there (--vs-litellm)")
    parser.add_argument(
        "--workers", default="1", help="kgft worker counts to compare, e.g. 1,2 (--vs-litellm)"
    )
    parser.add_argument("--out", type=Path)
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--inline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.home, args.inline)
        return
    if args.vs_litellm:
        result = vs_litellm(args)
        out = args.out or Path("bench/results/gateway_overhead_vs_litellm.json")
    else:
        result = instant_route(args)
        out = args.out or Path("bench/results/gateway_overhead.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
