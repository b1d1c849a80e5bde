"""Gateway reliability under mixed traffic: no 5xx, a 4xx for every bad request, one log row per answer.

Starts a real `kgft serve`-like server (uvicorn, tmp KGFT_HOME, SQLite results store, auth on) with two
instant priced routes, sends N requests of many kinds, valid and not, in a shuffled order from
concurrent clients, stops the server (which flushes the log), then compares the results store's live
rows with the answers the clients received. Writes JSON.

Usage: python bench/gateway_reliability.py [--requests 10000] [--concurrency 32] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import httpx

from gateway.keys import KeyTable
from kgft.contract import Answer, Citation, Cost, Question
from kgft.results_store import LIVE_RUN, ResultRow, ResultStore
from kgft.settings import Settings

ANSWER_COST_USD = Decimal("0.0001")
SMALL_BUDGET_USD = Decimal("0.0005")  # five answers' worth
BODY_LIMIT_BYTES = 64 * 1024  # the gateway_max_body_bytes default
SEED = 20261124
CHAT, ANSWER = "/v1/chat/completions", "/v1/answer"


class PricedRoute:
    """Answers at once, at a fixed price, so a small budget runs out after a known number of answers."""

    def __init__(self, name: str):
        self.name = name

    def answer(self, question: Question) -> Answer:
        return Answer(
            text=f"{self.name}: {question.text[:40]}",
            choice=min(question.options) if question.options else None,
            route=self.name,
            model="instant",
            citations=[Citation(id="article:232", text="故意杀人的……", source="刑法 第二百三十二条")],
            cost=Cost(runtime_usd=ANSWER_COST_USD, basis="benchmark price", priced=True),
        )

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(question) for question in questions]


def serve(port: int, home: Path) -> None:
    import uvicorn

    from gateway.app import create_app
    from kgft.pricing import PriceBook

    routes = {name: PricedRoute(name) for name in ("kg", "ft")}
    app = create_app(Settings(home=home), PriceBook.load(), routes=routes)
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, access_log=False, log_level="warning")


@dataclass(frozen=True)
class Probe:
    """One kind of request and the statuses that are right for it."""

    kind: str
    method: str
    path: str
    body: bytes | None
    key: str | None  # "good", "wrong", "broke" or None (no Authorization header)
    expect: frozenset[int]
    content_type: str = "application/json"

    @property
    def valid(self) -> bool:
        return 200 in self.expect


def _chat(model: str = "kg", text: str = "刑法第二百三十二条规定了什么？", **extra: object) -> bytes:
    return json.dumps({"model": model, "messages": [{"role": "user", "content": text}], **extra}).encode()


def probes() -> list[tuple[Probe, int]]:
    """Each kind of request with its weight in the mix."""
    ok, bad = frozenset({200}), frozenset({400})
    answer = json.dumps({"route": "ft", "text": "头痛吃什么药？", "domain": "medical"}).encode()
    mcq = json.dumps({"route": "kg", "text": "哪项正确？", "options": {"A": "甲", "B": "乙"}}).encode()
    huge = _chat(text="法" * BODY_LIMIT_BYTES)
    unknown_feedback = b'{"response_id": "nope", "correct": true}'
    return [
        (Probe("chat", "POST", CHAT, _chat(), "good", ok), 30),
        (Probe("chat_stream", "POST", CHAT, _chat(stream=True), "good", ok), 8),
        (Probe("answer", "POST", ANSWER, answer, "good", ok), 10),
        (Probe("answer_mcq", "POST", ANSWER, mcq, "good", ok), 5),
        (Probe("models", "GET", "/v1/models", None, "good", ok), 2),
        (Probe("malformed_json", "POST", CHAT, b'{"model": "kg", "messages": [', "good", bad), 6),
        (Probe("not_utf8", "POST", CHAT, b'{"model": "\xff\xfe"}', "good", bad), 2),
        (Probe("json_not_object", "POST", CHAT, b"[1, 2, 3]", "good", bad), 2),
        (Probe("no_messages", "POST", CHAT, b'{"model": "kg"}', "good", bad), 3),
        (Probe("blank_question", "POST", CHAT, _chat(text="   "), "good", bad), 2),
        (Probe("bad_option_key", "POST", ANSWER, b'{"text": "q", "options": {"a1": "x"}}', "good", bad), 2),
        (Probe("unknown_field", "POST", ANSWER, b'{"text": "q", "colour": "red"}', "good", bad), 2),
        (Probe("oversized", "POST", CHAT, huge, "good", frozenset({413})), 4),
        (Probe("unknown_model", "POST", CHAT, _chat(model="gpt-9"), "good", frozenset({404})), 5),
        (Probe("wrong_key", "POST", CHAT, _chat(), "wrong", frozenset({401})), 5),
        (Probe("no_key", "POST", CHAT, _chat(), None, frozenset({401})), 3),
        (Probe("over_budget_key", "POST", CHAT, _chat(), "broke", frozenset({200, 429})), 5),
        (Probe("wrong_method", "GET", CHAT, None, "good", frozenset({405})), 1),
        (Probe("unknown_path", "POST", "/v1/completions", _chat(), "good", frozenset({404})), 1),
        (Probe("unknown_feedback", "POST", "/v1/feedback", unknown_feedback, "good", frozenset({404})), 1),
    ]


@dataclass
class Outcome:
    kind: str
    status: int
    response_id: str | None
    seconds: float


async def _send(client: httpx.AsyncClient, probe: Probe, keys: dict[str, str]) -> Outcome:
    headers = {"content-type": probe.content_type}
    if probe.key is not None:
        headers["authorization"] = f"Bearer {keys[probe.key]}"
    started = time.perf_counter()
    try:
        response = await client.request(probe.method, probe.path, content=probe.body, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(probe.kind, -1, type(exc).__name__, time.perf_counter() - started)
    response_id = response.headers.get("x-kgft-response-id") if response.status_code == 200 else None
    return Outcome(probe.kind, response.status_code, response_id, time.perf_counter() - started)


async def drive(base: str, plan: list[Probe], keys: dict[str, str], concurrency: int) -> list[Outcome]:
    queue: asyncio.Queue[Probe] = asyncio.Queue()
    for probe in plan:
        queue.put_nowait(probe)
    outcomes: list[Outcome] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            while not queue.empty():
                outcomes.append(await _send(client, queue.get_nowait(), keys))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return outcomes


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start(home: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    command = [sys.executable, __file__, "--serve", str(port), "--home", str(home)]
    process = subprocess.Popen(command, env=os.environ | {"KGFT_HOME": str(home)}, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return process, base
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("gateway did not become ready in 60 s")


def run(requests: int, concurrency: int) -> dict:
    weighted = probes()
    rng = random.Random(SEED)
    plan = rng.choices([probe for probe, _ in weighted], [weight for _, weight in weighted], k=requests)
    with tempfile.TemporaryDirectory(prefix="kgft-reliability-") as tmp:
        home = Path(tmp)
        results = ResultStore(Settings(home=home).store_url)
        key_table = KeyTable(results.engine)
        keys = {
            "good": key_table.create("good", rpm=10**9, budget_usd=Decimal(1000)),
            "broke": key_table.create("broke", rpm=10**9, budget_usd=SMALL_BUDGET_USD),
            "wrong": "kgft-" + "x" * 43,
        }
        process, base = _start(home)
        started = time.perf_counter()
        try:
            outcomes = asyncio.run(drive(base, plan, keys, concurrency))
        finally:
            elapsed_s = time.perf_counter() - started
            os.killpg(process.pid, signal.SIGTERM)  # graceful: the log writer flushes on shutdown
            server_rc = process.wait(60)
        rows = ResultStore(Settings(home=home).store_url).rows(LIVE_RUN)
    return _verdict(weighted, outcomes, rows, elapsed_s, server_rc, requests, concurrency)


def _verdict(
    weighted: list[tuple[Probe, int]],
    outcomes: list[Outcome],
    rows: list[ResultRow],
    elapsed_s: float,
    server_rc: int,
    requests: int,
    concurrency: int,
) -> dict:
    expected = {probe.kind: probe for probe, _ in weighted}
    by_kind: dict[str, Counter[int]] = defaultdict(Counter)
    for outcome in outcomes:
        by_kind[outcome.kind][outcome.status] += 1
    wrong = {
        kind: {
            str(status): count for status, count in statuses.items() if status not in expected[kind].expect
        }
        for kind, statuses in by_kind.items()
    }
    wrong = {kind: statuses for kind, statuses in wrong.items() if statuses}
    served_ids = [
        outcome.response_id for outcome in outcomes if outcome.status == 200 and outcome.response_id
    ]
    answered = sum(1 for outcome in outcomes if outcome.status == 200 and outcome.kind != "models")
    row_ids = Counter(row.response_id for row in rows)
    duplicates = sum(count - 1 for count in row_ids.values() if count > 1)
    invalid_sent = sum(1 for outcome in outcomes if not expected[outcome.kind].valid)
    invalid_4xx = sum(
        1 for outcome in outcomes if not expected[outcome.kind].valid and 400 <= outcome.status < 500
    )
    five_xx = sum(1 for outcome in outcomes if outcome.status >= 500 or outcome.status < 0)
    broke_accepted = by_kind["over_budget_key"][200]
    checks = {
        "zero_5xx_or_transport_errors": five_xx == 0,
        "every_bad_request_got_a_4xx": invalid_4xx == invalid_sent,
        "every_status_as_expected": not wrong,
        "one_row_per_answered_request": len(rows) == answered == len(served_ids),
        "rows_are_the_served_answers": set(row_ids) == set(served_ids) and duplicates == 0,
        "over_budget_key_refused": by_kind["over_budget_key"][429] > 0,
        # uvicorn re-raises SIGTERM after its graceful shutdown, so -15 is a clean exit too.
        "server_exited_cleanly": server_rc in (0, -signal.SIGTERM),
    }
    latencies = sorted(outcome.seconds * 1000 for outcome in outcomes)
    return {
        "benchmark": "gateway_reliability",
        "passed": all(checks.values()),
        "checks": checks,
        "requests": requests,
        "concurrency": concurrency,
        "elapsed_s": round(elapsed_s, 2),
        "rps": round(requests / elapsed_s, 1),
        "client_latency_ms": {
            "p50": round(latencies[len(latencies) // 2], 2),
            "p99": round(latencies[int(len(latencies) * 0.99)], 2),
        },
        "answered": answered,
        "store_live_rows": len(rows),
        "duplicate_rows": duplicates,
        "bad_requests_sent": invalid_sent,
        "bad_requests_4xx": invalid_4xx,
        "five_xx": five_xx,
        "over_budget_key": {
            "accepted": broke_accepted,
            "refused_429": by_kind["over_budget_key"][429],
            "budget_usd": str(SMALL_BUDGET_USD),
            "answer_cost_usd": str(ANSWER_COST_USD),
            "ideal_accepted": int(SMALL_BUDGET_USD / ANSWER_COST_USD),
        },
        "statuses_by_kind": {
            kind: {str(s): n for s, n in sorted(c.items())} for kind, c in sorted(by_kind.items())
        },
        "unexpected_statuses": wrong,
        "setup": "uvicorn, 1 worker, auth on, two instant priced routes (thread dispatch), SQLite results "
        "store in a tmp KGFT_HOME; shuffled mix (fixed seed) from concurrent httpx clients",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--out", type=Path, default=Path("bench/results/gateway_reliability.json"))
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    parser.add_argument("--home", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.home)
        return
    result = run(args.requests, args.concurrency)
    for name, ok in result["checks"].items():
        print(f"{'ok  ' if ok else 'FAIL'} {name}")
    print(
        f"{result['requests']} requests in {result['elapsed_s']} s ({result['rps']} req/s), "
        f"{result['answered']} answered, {result['store_live_rows']} live rows, "
        f"{result['bad_requests_4xx']}/{result['bad_requests_sent']} bad requests got a 4xx, "
        f"{result['five_xx']} 5xx; over-budget key: {result['over_budget_key']}"
    )
    if result["unexpected_statuses"]:
        print("unexpected:", json.dumps(result["unexpected_statuses"]))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {args.out}")
    if not result["passed"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
