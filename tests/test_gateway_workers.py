"""Gateways that share one PostgreSQL enforce one rate limit and one budget per key: `kgft serve`
processes (one of them with two workers), a revocation, a skewed host clock and a database outage."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from gateway.app import create_app
from gateway.budget import Hold, OverBudget
from gateway.counters import RateLimited
from gateway.keys import ApiKey, KeyTable
from gateway.shared_state import SharedCounters, key_standing
from kgft.pricing import PriceBook
from kgft.results_store import LIVE_RUN, ResultStore
from kgft.settings import Settings
from tests.cli_env import shared_model_cache
from tests.gateway_fakes import FakeRoute, chat_body
from tests.served_gateway import free_port, served
from tests.tcp_cut import CuttableLink

# scripts/start_postgres.sh makes this role and database; PG_TEST_URL points elsewhere.
POSTGRES_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://kgft:kgft@127.0.0.1:5432/kgft_test")
KGFT = str(Path(sys.executable).parent / "kgft")
MAX_TOKENS = 8
_CEILING_PER_TOKEN = max(p.input + p.output for p in PriceBook.load().models.values()) / 1_000_000
ESTIMATE = _CEILING_PER_TOKEN * MAX_TOKENS  # what each call holds: the fake upstream's model is unpriced


@pytest.fixture(scope="module")
def postgres() -> Iterator[ResultStore]:
    try:
        store = ResultStore(POSTGRES_URL)
        store.ping()
    except Exception as exc:
        pytest.skip(f"no PostgreSQL answers at {POSTGRES_URL} (run scripts/test_services.sh): {exc}")
    yield store
    store.close()


def _upstream() -> FastAPI:
    """An OpenAI-compatible upstream that answers at once."""
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(body: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        return {
            "id": "up-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": "好"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        }  # fmt: skip

    return app


def _environment(home: Path, upstream: str) -> dict[str, str]:
    return {
        "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin",
        "HOME": str(home),
        "KGFT_HOME": str(home),
        "KGFT_CONFIG": str(home / "no-kgft.toml"),
        "KGFT_DB_URL": POSTGRES_URL,
        "KGFT_LLM_BACKEND": "openai:fake",
        "KGFT_OPENAI_BASE_URL": upstream + "/v1",
        "KGFT_GATEWAY_DEFAULT": "llm",
        **shared_model_cache(),
    }


def _wait_ready(base: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"kgft serve exited: {log.read_text()[-2000:]}"
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"kgft serve at {base} not ready: {log.read_text()[-2000:]}")


@pytest.fixture(scope="module")
def gateways(postgres, tmp_path_factory) -> Iterator[tuple[str, str, dict[str, str]]]:
    """Two `kgft serve` on one PostgreSQL, as two hosts would run them: A with two workers, B with one."""
    home = tmp_path_factory.mktemp("hosts")
    with served(_upstream()) as upstream:
        env = _environment(home, upstream)
        processes, bases = [], []
        try:
            for name, workers in (("a", 2), ("b", 1)):
                port = free_port()
                log = home / f"{name}.log"
                command = [KGFT, "serve", "--port", str(port), "--routes", "llm", "--workers", str(workers)]
                with log.open("w") as out:
                    process = subprocess.Popen(
                        command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
                    )
                processes.append(process)
                bases.append(f"http://127.0.0.1:{port}")
                _wait_ready(bases[-1], process, log)
            yield bases[0], bases[1], env
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)


def _new_key(store: ResultStore, prefix: str, rpm: int, budget_usd: Decimal) -> tuple[str, str]:
    name = f"{prefix}-{time.time_ns()}"  # the database outlives the test run
    return name, KeyTable(store.engine).create(name, rpm, budget_usd)


def _ask(base: str, key: str) -> httpx.Response:
    body = chat_body(model="llm", max_tokens=MAX_TOKENS)
    return httpx.post(base + "/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {key}"})


def _burst(bases: tuple[str, ...], key: str, requests: int) -> list[httpx.Response]:
    with ThreadPoolExecutor(12) as pool:
        return list(pool.map(lambda index: _ask(bases[index % len(bases)], key), range(requests)))


def _spend(store: ResultStore, name: str) -> tuple[Decimal, Decimal]:
    _, spent, held = key_standing(store.engine, name)
    return spent, held


def test_two_gateways_share_one_keys_rate_limit_exactly(postgres, gateways):
    a, b, _ = gateways
    _, key = _new_key(postgres, "rate", rpm=12, budget_usd=Decimal(100))
    responses = _burst((a, b), key, 30)
    codes = [response.status_code for response in responses]
    assert codes.count(200) == 12 and codes.count(429) == 18
    limited = [response.json()["error"] for response in responses if response.status_code == 429]
    assert {error["code"] for error in limited} == {"rate_limit_exceeded"}


def test_two_gateways_share_one_keys_budget_exactly(postgres, gateways):
    a, b, _ = gateways
    name, key = _new_key(postgres, "budget", rpm=1000, budget_usd=ESTIMATE * 3)
    responses = _burst((a, b), key, 10)
    codes = [response.status_code for response in responses]
    assert codes.count(200) == 3 and codes.count(429) == 7
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 429} == {"insufficient_quota"}
    deadline = time.monotonic() + 5
    while _spend(postgres, name) != (ESTIMATE * 3, 0) and time.monotonic() < deadline:
        time.sleep(0.1)  # settles reach the table in the background
    assert _spend(postgres, name) == (ESTIMATE * 3, 0)


def test_a_key_revoked_on_one_host_is_refused_everywhere_within_a_second(postgres, gateways):
    a, b, env = gateways
    name, key = _new_key(postgres, "revoke", rpm=1000, budget_usd=Decimal(100))
    assert [_ask(base, key).status_code for base in (a, a, b)] == [200, 200, 200]
    revoked = subprocess.run(
        [KGFT, "keys", "revoke", name], env=env, capture_output=True, text=True, timeout=60
    )
    assert revoked.returncode == 0, revoked.stderr
    time.sleep(1.1)
    assert {_ask(base, key).status_code for base in (a, a, a, a, b, b)} == {401}  # both of A's workers too


def test_metrics_add_up_every_worker(postgres, gateways):
    a, _, _ = gateways
    _, key = _new_key(postgres, "metrics", rpm=1000, budget_usd=Decimal(100))

    def served_200() -> float:
        text = httpx.get(a + "/metrics").text
        found = re.search(r'^kgft_requests_total\{route="llm",status="200"\} (\S+)$', text, re.M)
        return float(found.group(1)) if found else 0.0

    before = served_200()
    assert [response.status_code for response in _burst((a,), key, 20)] == [200] * 20
    assert [served_200() - before for _ in range(4)] == [20.0] * 4  # whichever worker answers /metrics


def test_serving_workers_on_sqlite_is_refused_with_one_line(tmp_path):
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path), "KGFT_HOME": str(tmp_path)}
    env["KGFT_CONFIG"] = os.environ["KGFT_CONFIG"]
    refused = subprocess.run(
        [KGFT, "serve", "--workers", "2", "--routes", "llm"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 1
    assert "--workers 2 needs a results store the workers can share" in refused.stderr
    assert "Traceback" not in refused.stderr


@contextlib.asynccontextmanager
async def closing_on_the_loop(*counters: SharedCounters) -> AsyncIterator[None]:
    """Closes the counters on the loop that used them, as the gateway's lifespan does: asyncpg's
    connections belong to that loop."""
    try:
        yield
    finally:
        for each in counters:
            await asyncio.to_thread(each.close)


def test_a_host_whose_clock_is_a_month_ahead_counts_in_the_same_window(postgres, monkeypatch):
    name = f"skew-{time.time_ns()}"
    key = ApiKey(name, "-", rpm=3, budget_usd=Decimal(1), created="-")
    here, skewed = SharedCounters(POSTGRES_URL), SharedCounters(POSTGRES_URL)

    async def scenario() -> tuple[Hold | None, list[Hold | None], float]:
        async with closing_on_the_loop(here, skewed):
            first = await here.admit(key, Decimal("0.01"))
            real_time = time.time
            monkeypatch.setattr(time, "time", lambda: real_time() + 40 * 86400)
            later = [await skewed.admit(key, Decimal("0.01")) for _ in range(2)]
            with pytest.raises(RateLimited) as limited:
                await skewed.admit(key, Decimal("0.01"))
        return first, later, limited.value.wait_s

    first, later, wait_s = asyncio.run(scenario())
    assert first is not None and {hold.month for hold in later if hold} == {first.month}
    assert first.month == datetime.now(UTC).strftime("%Y-%m")  # the database's month, not the host's
    assert 55 <= wait_s <= 60


def test_a_budget_refusal_says_what_every_host_holds(postgres):
    name = f"standing-{time.time_ns()}"
    key = ApiKey(name, "-", rpm=100, budget_usd=Decimal("0.03"), created="-")
    one, other = SharedCounters(POSTGRES_URL), SharedCounters(POSTGRES_URL)

    async def scenario() -> OverBudget:
        async with closing_on_the_loop(one, other):
            hold = await one.admit(key, Decimal("0.02"))
            with pytest.raises(OverBudget) as over:
                await other.admit(key, Decimal("0.02"))
            assert hold is not None
            one.settle(hold, Decimal("0.005"))
        return over.value

    over = asyncio.run(scenario())
    assert (over.spent, over.held) == (0, Decimal("0.02"))
    assert _spend(postgres, name) == (Decimal("0.005"), 0)  # close() wrote the settle


def test_a_database_outage_is_a_503_with_its_reason_and_rows_wait_for_its_return(postgres, tmp_path):
    url = sa.engine.make_url(POSTGRES_URL)
    link = CuttableLink((url.host or "127.0.0.1", url.port or 5432))
    through_link = url.set(port=link.port).render_as_string(hide_password=False)
    name, key = _new_key(postgres, "outage", rpm=1000, budget_usd=Decimal(1))
    settings = Settings(home=tmp_path, db_url=through_link, gateway_default="kg")
    route = FakeRoute("kg", "0.0002", delay_s=1.0)
    app = create_app(settings, PriceBook.load(), routes={"kg": route}, store=ResultStore(through_link))
    headers = {"Authorization": f"Bearer {key}"}
    try:
        with served(app) as base, ThreadPoolExecutor(1) as pool:
            in_flight = pool.submit(
                httpx.post, base + "/v1/chat/completions", json=chat_body(), headers=headers
            )
            time.sleep(0.4)  # admitted, and on the route
            link.cut()
            refused = httpx.post(base + "/v1/chat/completions", json=chat_body(), headers=headers)
            answered = in_flight.result()
            time.sleep(2.0)  # its row and its charge meet the cut link, for longer than a few retries
            link.restore()
            deadline = time.monotonic() + 10
            while not _logged(postgres, answered) and time.monotonic() < deadline:
                time.sleep(0.2)
            after = httpx.post(base + "/v1/chat/completions", json=chat_body(), headers=headers)
    finally:
        link.close()
    assert answered.status_code == 200
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    error = refused.json()["error"]
    assert error["code"] == "state_unavailable" and "did not answer" in error["message"]
    assert _logged(postgres, answered), "the answer given during the outage never reached the store"
    assert after.status_code == 200
    deadline = time.monotonic() + 5
    while _spend(postgres, name) != (Decimal("0.0004"), 0) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _spend(postgres, name) == (Decimal("0.0004"), 0)  # both answers, the outage's one included


def _logged(store: ResultStore, response: httpx.Response) -> bool:
    query = sa.text("SELECT count(*) FROM kgft_results WHERE run_id = :run AND response_id = :id")
    with store.engine.connect() as connection:
        return connection.execute(query, {"run": LIVE_RUN, "id": response.json()["id"]}).scalar_one() == 1
