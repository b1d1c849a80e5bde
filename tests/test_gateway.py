"""The gateway's API as an OpenAI client and kgft's own clients see it, with instant fake routes."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from gateway.app import create_app
from kgft.contract import Answer
from kgft.pricing import PriceBook
from kgft.results_store import LIVE_RUN, ResultStore
from kgft.settings import Settings
from tests.gateway_fakes import COMPLETION_TOKENS, PROMPT_TOKENS, FakeRoute, chat_body, make_app


@pytest.fixture
def served(tmp_path):
    """A running gateway over fake kg and ft routes, and its results store."""
    app, store = make_app(tmp_path, {"kg": FakeRoute("kg", "0.000125"), "ft": FakeRoute("ft", "0.00002")})
    with TestClient(app) as client:
        yield client, store


def sse_events(text: str) -> list[dict | str]:
    """Parses SSE the way the openai client does: `data:` lines, blank-line separated, [DONE] last."""
    events: list[dict | str] = []
    for block in text.split("\n\n"):
        if not block.strip():
            continue
        (line,) = block.splitlines()
        assert line.startswith("data: ")
        data = line.removeprefix("data: ")
        events.append(data if data == "[DONE]" else json.loads(data))
    return events


def test_chat_completion_is_openai_shaped_with_route_cost_and_citations(served):
    client, _ = served
    response = client.post("/v1/chat/completions", json=chat_body(user="u1", temperature=0, tools=[]))
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["id"].startswith("chatcmpl-")
    assert body["model"] == "kg"
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": "kg says: 刑法第二百三十二条规定了什么？",
    }
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"] == {
        "prompt_tokens": PROMPT_TOKENS,
        "completion_tokens": COMPLETION_TOKENS,
        "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS,
    }
    kgft = body["kgft"]
    assert kgft["route"] == "kg" and kgft["response_id"] == body["id"]
    assert kgft["cost"] == {"runtime_usd": "0.000125", "basis": "fixed $0.000125", "priced": True}
    assert kgft["citations"][0]["source"] == "中华人民共和国刑法 第二百三十二条"
    assert response.headers["x-kgft-route"] == "kg"
    assert Decimal(response.headers["x-kgft-cost-usd"]) == Decimal(kgft["cost"]["runtime_usd"])
    assert response.headers["x-kgft-response-id"] == body["id"]


def test_domain_and_options_ride_as_extra_fields(tmp_path):
    kg = FakeRoute("kg")
    app, _ = make_app(tmp_path, {"kg": kg})
    with TestClient(app) as client:
        body = chat_body("阑尾炎应该挂什么科？", domain="medical", options={"A": "普外科", "B": "皮肤科"})
        assert client.post("/v1/chat/completions", json=body).json()["kgft"]["choice"] == "A"
        client.post("/v1/chat/completions", json=chat_body(metadata={"domain": "medical"}))
        client.post("/v1/chat/completions", json=chat_body())
    assert [question.domain for question in kg.questions] == ["medical", "medical", "legal"]
    assert kg.questions[0].options == {"A": "普外科", "B": "皮肤科"}


def test_the_last_user_message_is_the_question(served):
    client, _ = served
    messages = [
        {"role": "system", "content": "你是法律助手"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "刑法第232条"}, {"type": "text", "text": "是什么？"}],
        },
    ]
    body = client.post("/v1/chat/completions", json={"model": "kg", "messages": messages}).json()
    assert body["choices"][0]["message"]["content"] == "kg says: 刑法第232条是什么？"


def test_streaming_sends_chunks_usage_and_done(served):
    client, _ = served
    body = chat_body(stream=True, stream_options={"include_usage": True})
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["x-kgft-route"] == "kg"
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert len({chunk["id"] for chunk in chunks}) == 1
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert text == "kg says: 刑法第二百三十二条规定了什么？"
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    finishing = chunks[-2]
    assert finishing["choices"][0]["finish_reason"] == "stop"
    assert finishing["kgft"]["cost"]["runtime_usd"] == response.headers["x-kgft-cost-usd"]
    assert chunks[-1]["choices"] == []  # the usage-only chunk OpenAI sends when asked
    assert chunks[-1]["usage"]["total_tokens"] == PROMPT_TOKENS + COMPLETION_TOKENS


def test_streaming_without_include_usage_has_choices_in_every_chunk(served):
    client, _ = served
    events = sse_events(client.post("/v1/chat/completions", json=chat_body(stream=True)).text)
    assert all(event["choices"] for event in events[:-1])
    assert events[-2]["usage"]["prompt_tokens"] == PROMPT_TOKENS


def test_native_answer_returns_the_contract_answer_with_a_response_id(served):
    client, _ = served
    question = {"text": "刑法第二百三十二条规定了什么？", "domain": "legal", "route": "ft", "id": "my-7"}
    response = client.post("/v1/answer", json=question)
    assert response.status_code == 200
    body = response.json()
    answer = Answer.model_validate({key: body[key] for key in Answer.model_fields})
    assert answer.route == "ft" and answer.cost.runtime_usd == Decimal("0.00002")
    assert body["response_id"].startswith("answer-") and body["fallback"] is None
    assert response.headers["x-kgft-route"] == "ft"
    assert response.headers["x-kgft-cost-usd"] == "0.00002"


def test_every_answer_is_one_live_row_with_its_response_id_and_key(served):
    client, store = served
    ids = [
        client.post("/v1/chat/completions", json=chat_body(model=m)).json()["id"] for m in ("kg", "ft", "kg")
    ]
    ids.append(client.post("/v1/answer", json={"text": "问题", "route": "kg"}).json()["response_id"])
    client.app.state.gateway.writer.flush()
    rows = store.rows(LIVE_RUN)
    assert [row.response_id for row in rows] == ids
    assert [row.route for row in rows] == ["kg", "ft", "kg", "kg"]
    assert {row.source for row in rows} == {"live"}
    assert rows[0].item_id == ids[0] and rows[0].runtime_cost_usd == Decimal("0.000125")
    assert rows[0].question == "刑法第二百三十二条规定了什么？" and rows[0].category == "legal"
    assert rows[0].citations[0]["id"] == "article:232"
    assert rows[3].meta["endpoint"] == "answer"


def test_rows_still_queued_are_written_on_shutdown(tmp_path):
    app, store = make_app(tmp_path, {"kg": FakeRoute("kg")})
    with TestClient(app) as client:
        for _ in range(5):
            client.post("/v1/chat/completions", json=chat_body())
    assert len(store.rows(LIVE_RUN)) == 5


def test_feedback_marks_a_served_answer_correct_or_not(served):
    client, store = served
    first = client.post("/v1/chat/completions", json=chat_body()).json()["id"]
    second = client.post("/v1/chat/completions", json=chat_body()).json()["id"]
    assert client.post("/v1/feedback", json={"response_id": first, "correct": False}).status_code == 200
    assert client.post("/v1/feedback", json={"response_id": second, "rating": 4}).status_code == 200
    verdicts = {row.response_id: row.correct for row in store.rows(LIVE_RUN)}
    assert verdicts == {first: False, second: None}  # a rating alone says nothing about correctness


def test_feedback_on_an_unknown_response_is_404_and_an_empty_verdict_400(served):
    client, _ = served
    unknown = client.post("/v1/feedback", json={"response_id": "chatcmpl-nope", "correct": True})
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "response_not_found"
    empty = client.post("/v1/feedback", json={"response_id": "x"})
    assert empty.status_code == 400
    assert "correct" in empty.json()["error"]["message"]
    assert client.post("/v1/feedback", json={"response_id": "x", "rating": 9}).status_code == 400


def test_models_lists_routes_experiments_and_auto(tmp_path):
    app, _ = make_app(
        tmp_path,
        {"kg": FakeRoute("kg"), "ft": FakeRoute("ft")},
        gateway_experiments={"legal-ab": {"arms": {"kg": 1, "ft": 1}}},
    )
    with TestClient(app) as client:
        body = client.get("/v1/models").json()
    assert body["object"] == "list"
    assert [model["id"] for model in body["data"]] == ["ft", "kg", "legal-ab", "auto"]
    assert {model["object"] for model in body["data"]} == {"model"}


def test_metrics_count_requests_tokens_cost_and_overhead(served):
    client, _ = served
    for _ in range(3):
        client.post("/v1/chat/completions", json=chat_body())
    client.post("/v1/chat/completions", json=chat_body(model="nope"))
    text = client.get("/metrics").text
    assert 'kgft_requests_total{route="kg",status="200"} 3.0' in text
    assert 'kgft_requests_total{route="none",status="404"} 1.0' in text
    assert 'kgft_rejections_total{reason="unknown_model"} 1.0' in text
    assert f'kgft_tokens_total{{kind="prompt",route="kg"}} {3.0 * PROMPT_TOKENS}' in text
    assert 'kgft_cost_usd_total{route="kg"} 0.000375' in text
    assert "kgft_gateway_overhead_seconds_count 3.0" in text
    assert 'kgft_request_latency_seconds_count{route="kg"} 3.0' in text


def test_health_and_readiness(served):
    client, _ = served
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "routes": {"kg": "ready", "ft": "ready"}, "store": "ok"}


def test_a_route_that_fails_to_build_is_reported_by_readyz_and_refused_with_503(tmp_path):
    """The real KG route over an empty graph: the commonest first-run mistake."""
    app, _ = _real_app(tmp_path, gateway_routes=["kg"])
    with TestClient(app) as client:
        for _ in range(200):  # the build runs in a background thread
            ready = client.get("/readyz")
            if "loading" not in ready.json()["routes"]["kg"]:
                break
        assert ready.status_code == 503
        assert "kgft ingest legal" in ready.json()["reason"]
        refused = client.post("/v1/chat/completions", json=chat_body())
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "route_unavailable"
        assert "kgft ingest legal" in refused.json()["error"]["message"]
        assert client.get("/healthz").status_code == 200


def _real_app(tmp_path, **settings):
    store = ResultStore(f"sqlite:///{tmp_path / 'results.db'}")
    values = {"home": tmp_path, "gateway_auth": False, "graph": f"ladybug:{tmp_path / 'graph'}"} | settings
    return create_app(Settings(**values), PriceBook.load(), store=store), store


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[]", 400, "body"),
        (json.dumps({"messages": [{"role": "user", "content": "hi"}]}).encode(), 400, "model"),
        (json.dumps({"model": 7, "messages": []}).encode(), 400, "model"),
        (json.dumps({"model": "kg", "messages": []}).encode(), 400, "messages"),
        (json.dumps({"model": "kg", "messages": "hi"}).encode(), 400, "messages"),
        (json.dumps(chat_body(stream="yes please")).encode(), 400, "stream"),
        (json.dumps(chat_body(n=3)).encode(), 400, "n"),
        (json.dumps({"model": "kg", "messages": [{"role": "system", "content": "x"}]}).encode(), 400, "user"),
        (json.dumps(chat_body("   ")).encode(), 400, "blank"),
        (json.dumps(chat_body(domain="finance")).encode(), 400, "domain"),
        (json.dumps(chat_body(options={"a": "x"})).encode(), 400, "option keys"),
        (json.dumps(chat_body(model="gpt-4o")).encode(), 404, "kg"),
    ],
)
def test_bad_requests_get_openai_error_json_never_500(served, body, status, says):
    client, store = served
    response = client.post("/v1/chat/completions", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert says in error["message"]
    assert error["type"] == "invalid_request_error"
    client.app.state.gateway.writer.flush()
    assert store.rows(LIVE_RUN) == []  # refused requests are counted, not logged


def test_unknown_model_names_the_models_to_use(served):
    client, _ = served
    error = client.post("/v1/chat/completions", json=chat_body(model="gpt-4o")).json()["error"]
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "ft, kg, auto" in error["message"]


def test_native_answer_refuses_unknown_fields_and_conflicting_targets(served):
    client, _ = served
    typo = client.post("/v1/answer", json={"text": "问题", "domian": "legal"})
    assert typo.status_code == 400 and "domian" in typo.json()["error"]["message"]
    both = client.post("/v1/answer", json={"text": "问题", "route": "kg", "model": "ft"})
    assert both.status_code == 400 and "disagree" in both.json()["error"]["message"]


def test_unknown_paths_and_methods_answer_in_the_same_error_shape(served):
    client, _ = served
    missing = client.get("/v1/nothing-here")
    assert missing.status_code == 404 and "message" in missing.json()["error"]
    wrong = client.get("/v1/chat/completions")
    assert wrong.status_code == 405 and "message" in wrong.json()["error"]


def test_an_unforeseen_error_in_the_chat_handler_is_a_json_500_naming_no_internals(tmp_path, monkeypatch):
    """The chat endpoints run in the fast lane, past Starlette's exception layer: its outer error
    middleware still answers in OpenAI's shape."""
    app, _ = make_app(tmp_path, {"kg": FakeRoute("kg", "0.000125")})

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(app.state.gateway, "plan", broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/v1/chat/completions", json=chat_body())
    assert response.status_code == 500
    assert response.json()["error"]["message"] == "internal error (RuntimeError); see the gateway log"
