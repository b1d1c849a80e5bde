"""Live A/B traffic through the gateway, labelled by /v1/feedback, reported by the eval report."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from eval.workflow import report_run
from kgft.settings import Settings
from tests.gateway_fakes import FakeRoute, chat_body, make_app


def test_feedback_on_live_traffic_becomes_a_report(tmp_path):
    home = tmp_path / "home"
    routes = {"kg": FakeRoute("kg", "0.0001"), "ft": FakeRoute("ft", "0.0004")}
    experiment = {"legal-ab": {"arms": {"kg": 1, "ft": 1}, "shadow": None}}
    app, store = make_app(home, routes, gateway_experiments=experiment, gateway_default="legal-ab")
    served: dict[str, list[str]] = {"kg": [], "ft": []}
    with TestClient(app) as client:
        for index in range(40):
            body = chat_body(
                f"第{index}个问题：刑法第二百三十二条规定了什么？", model="auto", user=f"user-{index}"
            )
            response = client.post("/v1/chat/completions", json=body)
            assert response.status_code == 200
            served[response.headers["x-kgft-route"]].append(response.json()["id"])
        # Users say every KG answer was right and every FT answer wrong.
        for route, ids in served.items():
            for response_id in ids:
                verdict = {"response_id": response_id, "correct": route == "kg"}
                assert client.post("/v1/feedback", json=verdict).status_code == 200
    store.close()

    settings = Settings(home=home, db_url=f"sqlite:///{home / 'results.db'}")
    summary, written = report_run(tmp_path / "live-report", settings, run_id="live")

    assert served["kg"] and served["ft"]  # sticky hashing spread 40 users over both arms
    assert summary["routes"]["kg"]["n"] == len(served["kg"])
    assert summary["routes"]["kg"]["accuracy"] == 1.0
    assert summary["routes"]["ft"]["accuracy"] == 0.0
    assert summary["routes"]["ft"]["cost_per_query_usd"] == "0.0004"
    comparison = summary["comparison"]
    assert (comparison["design"], comparison["n_paired"]) == ("unpaired", 0)  # each user saw one arm
    assert comparison["accuracy_diff"] == 1.0 and comparison["fisher_p"] < 1e-6
    assert "Fisher" in summary["verdict"]
    assert json.loads(written["json"].read_text("utf-8"))["dataset"] == "run live"
    assert written["html"].is_file()
