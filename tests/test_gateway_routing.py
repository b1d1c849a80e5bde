"""Routing: explicit routes, sticky A/B arms, `auto`, shadow runs, fallbacks and per-route gates."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gateway.routing import Router, sticky_point
from kgft.errors import KgftError
from kgft.results_store import LIVE_RUN
from kgft.routes import route_names
from kgft.settings import GatewayExperiment, Settings
from tests.cli_env import shared_model_cache
from tests.gateway_fakes import FakeRoute, chat_body, make_app

AB = {"arms": {"kg": 0.3, "ft": 0.7}}


def router(**experiments: dict) -> Router:
    parsed = {name: GatewayExperiment.model_validate(value) for name, value in experiments.items()}
    return Router(
        ["kg", "ft", "llm"], parsed, default="legal-ab" if "legal-ab" in parsed else "kg", timeout_s=9
    )


def test_sticky_point_is_a_stable_function_of_experiment_and_user():
    # Pinned (`printf 'legal-ab\0user-42' | sha256sum`, first 8 bytes / 2**64): changing the hash
    # would move every user to another arm mid-experiment.
    assert sticky_point("legal-ab", "user-42") == pytest.approx(0.0037276652500774976)
    assert sticky_point("legal-ab", "user-42") != sticky_point("other-ab", "user-42")


def test_a_user_keeps_the_same_arm_across_requests_and_restarts():
    first, second = router(**{"legal-ab": AB}), router(**{"legal-ab": AB})
    for user in (f"user-{n}" for n in range(200)):
        arm = first.plan("legal-ab", user).route
        assert {first.plan("legal-ab", user).route, second.plan("legal-ab", user).route} == {arm}


def test_arms_split_10k_users_by_their_weights():
    routes = Counter(router(**{"legal-ab": AB}).plan("legal-ab", f"user-{n}").route for n in range(10_000))
    assert routes["ft"] / 10_000 == pytest.approx(0.7, abs=0.02)
    assert set(routes) == {"kg", "ft"}


def test_requests_without_a_user_are_split_at_random():
    routes = Counter(router(**{"legal-ab": AB}).plan("legal-ab", None).route for _ in range(2_000))
    assert routes["ft"] / 2_000 == pytest.approx(0.7, abs=0.05)


def test_a_zero_weight_arm_gets_nobody():
    plans = router(**{"legal-ab": {"arms": {"kg": 1, "ft": 0}}})
    assert {plans.plan("legal-ab", f"u{n}").route for n in range(500)} == {"kg"}


def test_auto_means_the_default_and_explicit_names_mean_themselves():
    plans = router(**{"legal-ab": AB | {"shadow": "llm", "fallback": "kg", "timeout_s": 3}})
    auto = plans.plan("auto", "user-1")
    assert auto.experiment == "legal-ab" and auto.requested == "auto" and auto.timeout_s == 3
    assert auto.shadow == "llm"
    assert auto.fallback == ("kg" if auto.route == "ft" else None)  # never fall back to the same route
    explicit = plans.plan("llm", "user-1")
    assert (explicit.route, explicit.experiment, explicit.shadow, explicit.timeout_s) == (
        "llm",
        None,
        None,
        9,
    )


@pytest.mark.parametrize(
    ("experiments", "says"),
    [
        ({"ab": {"arms": {"kg": 1, "zz": 1}}}, "zz"),
        ({"ab": {"arms": {"kg": 1}, "shadow": "qq"}}, "qq"),
        ({"kg": {"arms": {"ft": 1}}}, "name of a route"),
    ],
)
def test_experiments_that_name_unserved_routes_stop_the_gateway_at_start(experiments, says):
    parsed = {name: GatewayExperiment.model_validate(value) for name, value in experiments.items()}
    with pytest.raises(KgftError, match=says):
        Router(["kg", "ft"], parsed, default="kg", timeout_s=1)


def test_bad_weights_and_defaults_are_refused():
    with pytest.raises(ValueError, match="positive sum"):
        GatewayExperiment.model_validate({"arms": {"kg": 0}})
    with pytest.raises(KgftError, match="gateway_default 'nope'"):
        Router(["kg"], {}, default="nope", timeout_s=1)


def test_experiments_are_read_from_kgft_toml(tmp_path, monkeypatch):
    config = tmp_path / "kgft.toml"
    config.write_text(
        'gateway_routes = ["kg", "ft"]\n'
        'gateway_default = "legal-ab"\n'
        "gateway_route_concurrency = {ft = 2}\n"
        "[gateway_experiments.legal-ab]\n"
        "arms = {kg = 0.5, ft = 0.5}\n"
        'shadow = "ft"\n'
        'fallback = "kg"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("KGFT_CONFIG", str(config))
    monkeypatch.setenv("KGFT_GATEWAY_AUTH", "false")
    settings = Settings()
    assert settings.gateway_experiments["legal-ab"] == GatewayExperiment(
        arms={"kg": 0.5, "ft": 0.5}, shadow="ft", fallback="kg"
    )
    assert settings.gateway_route_concurrency == {"ft": 2}
    assert settings.gateway_auth is False


def test_the_user_header_keeps_a_user_on_one_arm_through_the_api(tmp_path):
    app, _ = make_app(
        tmp_path,
        {"kg": FakeRoute("kg"), "ft": FakeRoute("ft")},
        gateway_experiments={"legal-ab": {"arms": {"kg": 0.5, "ft": 0.5}}},
    )
    with TestClient(app) as client:
        for user in ("alice", "bob", "carol"):
            asked = [
                client.post(
                    "/v1/chat/completions", json=chat_body(model="legal-ab"), headers={"x-kgft-user": user}
                )
                for _ in range(5)
            ]
            arms = {response.headers["x-kgft-route"] for response in asked}
            expected = router(**{"legal-ab": {"arms": {"kg": 0.5, "ft": 0.5}}}).plan("legal-ab", user).route
            assert arms == {expected}


def test_shadow_answers_are_logged_beside_the_served_one_but_never_served(tmp_path):
    kg, ft = FakeRoute("kg"), FakeRoute("ft", "0.00002")
    app, store = make_app(
        tmp_path, {"kg": kg, "ft": ft}, gateway_experiments={"shadowed": {"arms": {"kg": 1}, "shadow": "ft"}}
    )
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=chat_body(model="shadowed"))
        body = response.json()
    assert response.headers["x-kgft-route"] == "kg"
    assert body["choices"][0]["message"]["content"].startswith("kg says")
    assert body["kgft"]["shadow"] == "ft" and body["kgft"]["experiment"] == "shadowed"
    assert len(ft.questions) == 1
    rows = {row.source: row for row in store.rows(LIVE_RUN)}
    assert set(rows) == {"live", "shadow"}
    assert rows["live"].route == "kg" and rows["shadow"].route == "ft"
    assert rows["live"].item_id == rows["shadow"].item_id == body["id"]  # a paired comparison
    assert rows["live"].response_id == body["id"]
    assert rows["shadow"].response_id == body["id"]  # feedback on the answer finds its shadow too
    assert rows["shadow"].answer_text.startswith("ft says")


def test_shadow_runs_add_no_latency_and_are_dropped_when_the_queue_is_full(tmp_path):
    slow_shadow = FakeRoute("ft", delay_s=0.5)
    app, store = make_app(
        tmp_path,
        {"kg": FakeRoute("kg"), "ft": slow_shadow},
        gateway_experiments={"shadowed": {"arms": {"kg": 1}, "shadow": "ft"}},
        gateway_shadow_queue=1,
    )
    with TestClient(app) as client:
        first = client.post("/v1/chat/completions", json=chat_body(model="shadowed"))
        second = client.post("/v1/chat/completions", json=chat_body(model="shadowed"))
        assert first.elapsed.total_seconds() < 0.4  # not waiting for the 0.5 s shadow
        assert first.json()["kgft"]["shadow"] == "ft"
        assert second.json()["kgft"]["shadow"] is None
        assert 'kgft_shadow_runs_total{outcome="dropped",route="ft"} 1.0' in client.get("/metrics").text
    assert Counter(row.source for row in store.rows(LIVE_RUN)) == {"live": 2, "shadow": 1}


def test_a_failing_route_falls_back_and_says_so(tmp_path):
    broken = FakeRoute("kg", error=RuntimeError("graph connection lost"))
    app, store = make_app(
        tmp_path,
        {"kg": broken, "ft": FakeRoute("ft")},
        gateway_experiments={"safe": {"arms": {"kg": 1}, "fallback": "ft"}},
    )
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=chat_body(model="safe"))
        metrics = client.get("/metrics").text
    assert response.status_code == 200
    assert response.headers["x-kgft-route"] == "ft"
    assert response.headers["x-kgft-fallback-from"] == "kg"
    fallback = response.json()["kgft"]["fallback"]
    assert fallback["from"] == "kg" and "graph connection lost" in fallback["reason"]
    assert 'kgft_fallbacks_total{from_route="kg",to_route="ft",why="error"} 1.0' in metrics
    failed, served = store.rows(LIVE_RUN)  # the failed primary is a row too, so failure rates are true
    assert (served.route, served.fallback_from) == ("ft", "kg")
    assert failed.route == "kg" and "graph connection lost" in failed.error
    assert failed.response_id == served.response_id == response.json()["id"]


def test_a_route_slower_than_the_timeout_falls_back(tmp_path):
    app, _ = make_app(
        tmp_path,
        {"kg": FakeRoute("kg", delay_s=2), "ft": FakeRoute("ft")},
        gateway_experiments={"safe": {"arms": {"kg": 1}, "fallback": "ft", "timeout_s": 0.2}},
    )
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=chat_body(model="safe"))
    assert response.elapsed.total_seconds() < 1.5
    assert response.headers["x-kgft-fallback-from"] == "kg"
    assert "within 0.2 s" in response.json()["kgft"]["fallback"]["reason"]


def test_without_a_fallback_a_failing_route_is_502_and_a_slow_one_504(tmp_path):
    secret = RuntimeError("boom at /srv/secret/path\nTraceback (most recent call last): ...")
    app, store = make_app(
        tmp_path,
        {"kg": FakeRoute("kg", error=secret), "ft": FakeRoute("ft", delay_s=2)},
        gateway_route_timeout_s=0.2,
    )
    with TestClient(app) as client:
        failed = client.post("/v1/chat/completions", json=chat_body(model="kg"))
        slow = client.post("/v1/chat/completions", json=chat_body(model="ft"))
    assert failed.status_code == 502
    assert failed.json()["error"]["code"] == "route_error"
    assert "route 'kg' failed: RuntimeError: boom" in failed.json()["error"]["message"]
    assert "Traceback" not in failed.text
    assert slow.status_code == 504 and slow.json()["error"]["code"] == "route_timeout"
    errors = {row.route: row.error for row in store.rows(LIVE_RUN)}
    assert "boom" in errors["kg"] and "within 0.2 s" in errors["ft"]  # failures show in the live report


def test_a_route_takes_two_calls_at_once_unless_configured(tmp_path):
    serial, parallel = FakeRoute("kg", delay_s=0.05), FakeRoute("ft", delay_s=0.05)
    app, _ = make_app(tmp_path, {"kg": serial, "ft": parallel}, gateway_route_concurrency={"ft": 4})
    with TestClient(app) as client:

        def ask(model: str) -> None:
            assert client.post("/v1/chat/completions", json=chat_body(model=model)).status_code == 200

        threads = [threading.Thread(target=ask, args=(model,)) for model in ["kg", "ft"] * 6]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert serial.most_at_once == 2
    assert parallel.most_at_once > 2


def test_serve_refuses_unknown_routes_in_one_line_before_listening(tmp_path):
    kgft = str(Path(sys.executable).parent / "kgft")
    env = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(tmp_path),
        "HOME": str(tmp_path),
    }
    result = subprocess.run(
        [kgft, "serve", "--routes", "kg,zz"], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    assert result.returncode == 1
    served = ", ".join(route_names())
    assert result.stderr.strip() == f"error: unknown route(s) zz; the gateway serves: {served}"
