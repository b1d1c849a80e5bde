"""Keys hashed at rest, 401s, per-key rate limits and monthly budgets, body size limits."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from gateway.keys import KEY_PREFIX, MISS_LOOKUPS, ApiKey, KeyRing, KeyTable, hash_key
from gateway.limits import RateLimiter, month_of, seconds_to_next_month
from gateway.state_tables import api_keys, spend, to_pusd
from kgft.errors import KgftError
from kgft.results_store import LIVE_RUN
from tests.cli_env import shared_model_cache
from tests.gateway_fakes import COMPLETION_TOKENS, FakeRoute, chat_body, make_app
from tests.gateway_keys import key_table

KGFT = str(Path(sys.executable).parent / "kgft")


def find(ring: KeyRing, key: str) -> ApiKey | None:
    return asyncio.run(ring.find(key))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_keys_table_holds_only_hashes(tmp_path):
    keys = key_table(tmp_path)
    key = keys.create("legal-app", rpm=30, budget_usd=Decimal("12.5"))
    assert key.startswith(KEY_PREFIX) and len(key) > 40
    with keys.engine.connect() as connection:
        [row] = connection.execute(sa.select(api_keys)).mappings().all()
    assert key not in str(dict(row)) and key.removeprefix(KEY_PREFIX) not in str(dict(row))
    assert row["sha256"] == hash_key(key)
    assert (row["name"], row["rpm"], row["budget_usd"]) == ("legal-app", 30, "12.5")
    assert keys.create("other", 60, Decimal(1)) != key


def test_key_names_limits_and_budgets_are_checked(tmp_path):
    keys = key_table(tmp_path)
    keys.create("a", 60, Decimal(50))
    with pytest.raises(KgftError, match="exists"):
        keys.create("a", 60, Decimal(50))
    with pytest.raises(KgftError, match="positive"):
        keys.create("b", 60, Decimal(0))
    with pytest.raises(KgftError, match="no key named 'zz'"):
        keys.revoke("zz")
    keys.revoke("a")
    keys.create("a", 60, Decimal(5))  # a revoked key's name is free again
    assert keys.load()["a"].budget_usd == Decimal(5)


def test_an_older_keys_file_moves_into_the_table_once(tmp_path):
    legacy = tmp_path / "keys.json"
    entry = {
        "name": "old",
        "sha256": hash_key("kgft-old"),
        "rpm": 7,
        "budget_usd": "3",
        "created": "2026-01-01",
    }
    legacy.write_text(json.dumps({"keys": [entry]}), "utf-8")
    keys = key_table(tmp_path)
    assert keys.import_file(legacy) == 1
    assert find(KeyRing(keys), "kgft-old").rpm == 7
    assert not legacy.exists() and (tmp_path / "keys.json.imported").exists()
    assert keys.import_file(legacy) == 0
    (tmp_path / "keys.json").write_text("{broken", "utf-8")
    with pytest.raises(KgftError, match="unreadable"):
        keys.import_file(legacy)


def test_a_revoked_key_stops_working_within_a_second(tmp_path):
    keys = key_table(tmp_path)
    key = keys.create("temp", 60, Decimal(5))
    ring = KeyRing(keys)
    assert find(ring, key).name == "temp"
    keys.revoke("temp")
    time.sleep(1.05)
    assert find(ring, key) is None


def test_a_key_made_just_after_a_miss_works_on_its_first_request(tmp_path):
    keys = key_table(tmp_path)
    ring = KeyRing(keys)
    assert find(ring, "kgft-nobody") is None  # a miss, as a mistyped or forged key makes
    key = keys.create("fresh", 60, Decimal(5))  # on another host, a moment later
    assert find(ring, key).name == "fresh"
    assert find(ring, "kgft-nobody") is None


class SlowLookups(KeyTable):
    """The real table, with each lookup of an unknown hash held until `go` is set."""

    def __init__(self, engine: sa.Engine):
        super().__init__(engine)
        self.go = threading.Event()
        self.lookups = 0

    def live_key(self, sha256: str) -> ApiKey | None:
        self.lookups += 1
        self.go.wait(5)
        return super().live_key(sha256)


def test_unknown_keys_are_looked_up_off_the_loop_and_a_flood_of_them_is_capped(tmp_path):
    table = SlowLookups(key_table(tmp_path).engine)
    known = table.create("known", 60, Decimal(5))
    ring = KeyRing(table)

    async def flood() -> tuple[list[ApiKey | None], ApiKey | None]:
        misses = [asyncio.create_task(ring.find(f"kgft-made-up-{n}")) for n in range(MISS_LOOKUPS + 3)]
        await asyncio.sleep(0.2)  # every miss has asked; those past the cap are answered already
        assert sum(task.done() for task in misses) == 3
        hit = await ring.find(known)  # answered while the lookups still wait on the database
        assert not any(task.done() for task in misses[:MISS_LOOKUPS])
        table.go.set()
        return await asyncio.gather(*misses), hit

    refused, hit = asyncio.run(flood())
    assert refused == [None] * (MISS_LOOKUPS + 3) and hit is not None and hit.name == "known"
    assert table.lookups == MISS_LOOKUPS


def test_cli_prints_the_key_once_and_lists_and_revokes_by_name(tmp_path):
    env = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(tmp_path),
        "HOME": str(tmp_path),
    }

    def kgft(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [KGFT, *args], capture_output=True, text=True, env=env, timeout=120, check=False
        )

    created = kgft("keys", "create", "legal-app", "--rpm", "5", "--budget-usd", "2.5")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith(KEY_PREFIX) and "not shown again" in created.stderr
    listed = kgft("keys", "list")
    assert "legal-app" in listed.stderr and "$2.5" in listed.stderr
    assert key not in listed.stdout + listed.stderr
    assert kgft("keys", "revoke", "legal-app").returncode == 0
    again = kgft("keys", "revoke", "legal-app")
    assert again.returncode == 1 and "no key named 'legal-app'" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.fixture
def keyed(tmp_path):
    """A gateway with auth on and two keys: `roomy` (high limits) and `tight` (2 rpm, $0.05 budget)."""
    keys = key_table(tmp_path)
    roomy = keys.create("roomy", 1000, Decimal(100))
    tight = keys.create("tight", 2, Decimal("0.05"))
    app, store = make_app(tmp_path, {"kg": FakeRoute("kg", "0.0002")}, gateway_auth=True)
    with TestClient(app) as client:
        yield client, store, roomy, tight


def test_requests_without_a_valid_key_are_401_and_not_logged(keyed):
    client, store, roomy, _ = keyed
    missing = client.post("/v1/chat/completions", json=chat_body())
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "missing_api_key"
    wrong = client.post("/v1/chat/completions", json=chat_body(), headers=bearer("kgft-not-a-key"))
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    assert client.get("/v1/models").status_code == 401
    assert client.post("/v1/feedback", json={"response_id": "x", "correct": True}).status_code == 401
    ok = client.post("/v1/chat/completions", json=chat_body(), headers=bearer(roomy))
    assert ok.status_code == 200
    client.app.state.gateway.writer.flush()
    [row] = store.rows(LIVE_RUN)
    assert row.meta["key"] == "roomy"
    assert 'kgft_rejections_total{reason="auth"} 4.0' in client.get("/metrics").text


def test_a_key_may_label_only_the_answers_served_to_it(keyed):
    client, store, roomy, tight = keyed
    served = client.post("/v1/chat/completions", json=chat_body(), headers=bearer(roomy)).json()["id"]
    wrong, right = {"response_id": served, "correct": False}, {"response_id": served, "correct": True}
    stranger = client.post("/v1/feedback", json=wrong, headers=bearer(tight))
    assert stranger.status_code == 404  # as if unknown: another key's traffic is not revealed
    owner = client.post("/v1/feedback", json=right, headers=bearer(roomy))
    assert owner.status_code == 200
    assert [row.correct for row in store.rows(LIVE_RUN)] == [True]


def test_health_readiness_and_metrics_need_no_key(keyed):
    client, *_ = keyed
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_a_key_over_its_rate_gets_429_with_retry_after(keyed):
    client, _, roomy, tight = keyed
    statuses = [
        client.post("/v1/chat/completions", json=chat_body("q"), headers=bearer(tight)).status_code
        for _ in range(2)
    ]
    assert statuses == [200, 200]
    limited = client.post("/v1/chat/completions", json=chat_body("q"), headers=bearer(tight))
    assert limited.status_code == 429
    error = limited.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and "2 requests/minute" in error["message"]
    assert 55 <= int(limited.headers["retry-after"]) <= 60  # when the first leaves the 60 s window
    assert client.post("/v1/chat/completions", json=chat_body(), headers=bearer(roomy)).status_code == 200


def test_the_rate_window_slides_a_second_at_a_time():
    limiter = RateLimiter()
    assert [limiter.wait_s("k", 3, now=100.2) for _ in range(2)] == [0.0, 0.0]
    assert limiter.wait_s("k", 3, now=130.5) == 0.0
    assert limiter.wait_s("k", 3, now=130.6) == pytest.approx(29.4)  # until second 100 leaves the window
    assert limiter.wait_s("k", 3, now=160.0) == 0.0  # second 100 left; 100.2's pair freed two places
    assert limiter.wait_s("k", 3, now=160.5) == 0.0
    assert limiter.wait_s("k", 3, now=160.9) == pytest.approx(29.1)  # 130, 160, 160 fill it
    assert limiter.wait_s("other", 3, now=160.9) == 0.0


def test_a_key_over_its_monthly_budget_gets_429_until_next_month(tmp_path):
    keys = key_table(tmp_path)
    key = keys.create("tight", 1000, Decimal("0.0005"))
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg", "0.0002")}, gateway_auth=True)
    ask = chat_body(max_tokens=COMPLETION_TOKENS)  # after one answer, the hold is 5 × $0.00004 = $0.0002
    with TestClient(app) as client:
        codes = [client.post("/v1/chat/completions", json=ask, headers=bearer(key)) for _ in range(3)]
    assert [response.status_code for response in codes] == [200, 200, 429]  # $0.0004 + $0.0002 > $0.0005
    refused = codes[2]
    assert refused.json()["error"]["code"] == "insufficient_quota"
    assert "spent $0.0004 and holds $0 " in refused.json()["error"]["message"]
    assert "may cost up to $0.0002" in refused.json()["error"]["message"]
    assert int(refused.headers["retry-after"]) == pytest.approx(
        seconds_to_next_month(datetime.now(UTC)), abs=5
    )


def test_a_restart_remembers_this_months_spend_but_not_last_months(tmp_path):
    keys = key_table(tmp_path)
    key = keys.create("tight", 1000, Decimal("0.00055"))  # a call may cost up to $0.0000625
    month = month_of(datetime.now(UTC))
    with keys.engine.begin() as connection:
        connection.execute(
            spend.insert(),
            [
                {"key_name": "tight", "month": at, "spent_pusd": to_pusd(usd), "held_pusd": 0}
                for at, usd in (("2020-01", Decimal(5)), (month, Decimal("0.0001")))
            ],
        )
    ask = chat_body(max_tokens=COMPLETION_TOKENS)
    for expected in ("0.0003", "0.0005"):  # each run spends $0.0002, and the next one starts from it
        app, _ = make_app(tmp_path, {"kg": FakeRoute("kg", "0.0002")}, gateway_auth=True)
        with TestClient(app) as client:
            assert client.post("/v1/chat/completions", json=ask, headers=bearer(key)).status_code == 200
        assert app.state.gateway.counters.standing("tight") == (month, Decimal(expected), Decimal(0))
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg", "0.0002")}, gateway_auth=True)
    with TestClient(app) as client:
        refused = client.post("/v1/chat/completions", json=ask, headers=bearer(key))
    assert refused.status_code == 429 and "spent $0.0005 and holds" in refused.json()["error"]["message"]


def test_auth_can_be_turned_off_for_local_demos(tmp_path):
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg")}, gateway_auth=False)
    with TestClient(app) as client:
        assert client.post("/v1/chat/completions", json=chat_body()).status_code == 200


def test_bodies_over_the_limit_are_413_whether_declared_or_streamed(tmp_path):
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg")}, gateway_max_body_bytes=2048)
    big = json.dumps(chat_body("刑" * 2000)).encode()
    with TestClient(app) as client:
        declared = client.post(
            "/v1/chat/completions", content=big, headers={"content-type": "application/json"}
        )
        streamed = client.post(
            "/v1/chat/completions",
            content=iter([big[:1000], big[1000:]]),
            headers={"content-type": "application/json"},
        )
        fits = client.post("/v1/chat/completions", json=chat_body("刑" * 300))
        metrics = client.get("/metrics").text
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "request_too_large"
    assert fits.status_code == 200
    assert 'kgft_rejections_total{reason="too_large"} 2.0' in metrics
