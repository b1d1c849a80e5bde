"""Budgets, slots and A/B stickiness under concurrent traffic: figures a burst or a stuck call would break."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from kgft.contract import Answer, Question
from kgft.pricing import PriceBook, unpriced
from kgft.results_store import LIVE_RUN
from tests.gateway_fakes import COMPLETION_TOKENS, AsyncFakeRoute, FakeRoute, chat_body, make_app
from tests.gateway_keys import key_table

ASK = chat_body(max_tokens=COMPLETION_TOKENS)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


class UnpricedRoute(FakeRoute):
    def answer(self, question: Question) -> Answer:
        return super().answer(question).model_copy(update={"cost": unpriced("no rate for this GPU")})


# Each test of slots and holds runs on a route answering in the gateway's threads and on one answering
# on its event loop (an HTTP model): the gate, the holds and late charging must not depend on which.
ROUTE_KINDS = pytest.mark.parametrize("route_kind", [FakeRoute, AsyncFakeRoute], ids=["thread", "loop"])


@ROUTE_KINDS
def test_a_burst_cannot_spend_past_the_budget(tmp_path, route_kind):
    keys = key_table(tmp_path)
    warm = keys.create("warm", 1000, Decimal(1))
    tight = keys.create("tight", 1000, Decimal("0.0005"))
    app, _ = make_app(tmp_path, {"kg": route_kind("kg", "0.0002", delay_s=0.3)}, gateway_auth=True,
                      gateway_default_concurrency=8)  # fmt: skip
    with TestClient(app) as client:
        assert client.post("/v1/chat/completions", json=ASK, headers=bearer(warm)).status_code == 200
        with ThreadPoolExecutor(6) as pool:
            codes = list(pool.map(lambda _: client.post(
                "/v1/chat/completions", json=ASK, headers=bearer(tight)).status_code, range(6)))  # fmt: skip
        _, spent, _ = app.state.gateway.counters.standing("tight")
    # Checked-then-charged, all six passed the check at $0 spent and spent $0.0012.
    assert sorted(codes) == [200, 200, 429, 429, 429, 429]
    assert spent == Decimal("0.0004")


def test_an_unpriced_answer_is_charged_its_hold_not_zero(tmp_path):
    key = key_table(tmp_path).create("app", 1000, Decimal(1))
    app, store = make_app(tmp_path, {"kg": UnpricedRoute("kg")}, gateway_auth=True)
    prices = PriceBook.load()
    ceiling = max(price.input + price.output for price in prices.models.values()) / 1_000_000
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=chat_body(max_tokens=100), headers=bearer(key))
    kgft = response.json()["kgft"]
    assert kgft["cost"]["priced"] is False
    assert Decimal(kgft["charged_usd"]) == ceiling * 100 > 0
    [row] = store.rows(LIVE_RUN)
    assert Decimal(row.meta["charged_usd"]) == ceiling * 100


@ROUTE_KINDS
def test_a_timed_out_call_keeps_its_hold_and_is_charged_and_logged_when_it_ends(tmp_path, route_kind):
    key = key_table(tmp_path).create("app", 1000, Decimal(1))
    app, store = make_app(tmp_path, {"kg": route_kind("kg", "0.0002", delay_s=0.6)}, gateway_auth=True,
                          gateway_route_timeout_s=0.2)  # fmt: skip
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=ASK, headers=bearer(key))
        counters = app.state.gateway.counters
        _, _, held_after_504 = counters.standing("app")
        time.sleep(0.8)
        _, spent, held = counters.standing("app")
    assert response.status_code == 504
    assert held_after_504 > 0  # the call still runs on the route's slot
    assert (spent, held) == (Decimal("0.0002"), Decimal(0))
    [row] = store.rows(LIVE_RUN)
    assert row.runtime_cost_usd == Decimal("0.0002") and row.meta["charged_usd"] == "0.0002"
    assert "within 0.2 s" in row.error and "answered after 0.6" in row.error


@ROUTE_KINDS
def test_a_full_route_answers_503_with_retry_after_instead_of_queueing(tmp_path, route_kind):
    slow = route_kind("kg", delay_s=0.4)
    app, _ = make_app(tmp_path, {"kg": slow}, gateway_default_concurrency=1, gateway_route_queue=1)
    barrier = threading.Barrier(4)

    def ask(_: int) -> tuple[int, str | None, str]:
        barrier.wait()
        response = client.post("/v1/chat/completions", json=chat_body())
        return response.status_code, response.headers.get("retry-after"), response.text

    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(ask, range(4)))
    assert sorted(code for code, _, _ in outcomes) == [200, 200, 503, 503]  # one running, one waiting
    busy = [outcome for outcome in outcomes if outcome[0] == 503]
    assert all(int(retry) >= 1 and "route_busy" in text for _, retry, text in busy)
    assert slow.most_at_once == 1


def test_a_route_answering_on_the_loop_shares_one_gate_with_its_threaded_calls(tmp_path):
    route = AsyncFakeRoute("kg", delay_s=0.3)
    app, store = make_app(tmp_path, {"kg": route}, gateway_default_concurrency=1, gateway_route_queue=4)
    mcq = chat_body("下列哪项正确？A. 甲 B. 乙")  # options: scored in a thread
    barrier = threading.Barrier(4)

    def ask(body: dict) -> int:
        barrier.wait()
        return client.post("/v1/chat/completions", json=body).status_code

    with TestClient(app) as client, ThreadPoolExecutor(4) as pool:
        assert client.post("/v1/chat/completions", json=chat_body()).status_code == 200
        codes = list(pool.map(ask, [chat_body(), mcq, chat_body(), mcq]))
    assert codes == [200] * 4
    assert route.most_at_once == 1  # one slot, whichever way each call ran
    # An open question that finds the slot free runs on the event loop, not in a route thread.
    assert route.threads and not any(name.startswith("kgft-route") for name in route.threads)
    assert len(store.rows(LIVE_RUN)) == 5


def test_without_a_user_an_experiment_sticks_to_the_api_key(tmp_path):
    keys = key_table(tmp_path)
    names = [keys.create(f"app-{index}", 1000, Decimal(1)) for index in range(16)]
    app, store = make_app(tmp_path, {"kg": FakeRoute("kg"), "ft": FakeRoute("ft")}, gateway_auth=True,
                          gateway_experiments={"ab": {"arms": {"kg": 0.5, "ft": 0.5}}})  # fmt: skip
    with TestClient(app) as client:
        arms = {
            key: {client.post("/v1/chat/completions", json=chat_body(model="ab"), headers=bearer(key)).json()[
                "kgft"]["route"] for _ in range(3)}
            for key in names
        }  # fmt: skip
        named = client.post(
            "/v1/chat/completions", json=chat_body(model="ab", user="u1"), headers=bearer(names[0])
        )
    assert all(len(routes) == 1 for routes in arms.values())  # each key saw one arm
    assert {next(iter(routes)) for routes in arms.values()} == {"kg", "ft"}  # and keys split
    assert named.json()["kgft"]["sticky"] == "user"
    rows = store.rows(LIVE_RUN)
    assert {row.meta["sticky"] for row in rows} == {"key", "user"}
