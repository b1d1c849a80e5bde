"""Streamed chat completions from routes that write as they go: chunks reach the client while the route
is still writing, and failures before and after the first word are handled as a client expects."""

from __future__ import annotations

import json
import threading

from fastapi.testclient import TestClient

from kgft.results_store import LIVE_RUN
from tests.gateway_fakes import (
    COMPLETION_TOKENS,
    PROMPT_TOKENS,
    FakeRoute,
    StreamingFakeRoute,
    chat_body,
    make_app,
)

ANSWER = "kg says: 刑法第二百三十二条规定了什么？"


def read_events(lines) -> list[dict | str]:
    """SSE `data:` events as the openai client reads them: JSON objects, then the literal [DONE]."""
    events: list[dict | str] = []
    for line in lines:
        if line.startswith("data: "):
            data = line.removeprefix("data: ")
            events.append(data if data == "[DONE]" else json.loads(data))
    return events


def contents(events: list[dict | str]) -> list[str]:
    return [
        event["choices"][0]["delta"]["content"]
        for event in events
        if isinstance(event, dict) and event.get("choices") and event["choices"][0]["delta"].get("content")
    ]


def test_the_first_words_reach_the_client_while_the_route_is_still_writing(tmp_path):
    hold = threading.Event()
    kg = StreamingFakeRoute("kg", hold=hold)
    app, store = make_app(tmp_path, {"kg": kg})
    body = chat_body(stream=True, stream_options={"include_usage": True})
    events: list[dict | str] = []
    with TestClient(app) as client, client.stream("POST", "/v1/chat/completions", json=body) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            events += read_events([line])
            if contents(events) and not hold.is_set():
                assert not kg.finished.is_set()  # the route waits for us: this word left before the rest
                hold.set()
        headers = response.headers
    assert kg.finished.is_set()
    assert headers["content-type"].startswith("text/event-stream")
    assert headers["x-kgft-route"] == "kg" and "x-kgft-fallback-from" not in headers
    assert "x-kgft-cost-usd" not in headers  # not known when the headers leave; the last chunk has it

    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {chunk["object"] for chunk in chunks} == {"chat.completion.chunk"}
    assert {chunk["id"] for chunk in chunks} == {headers["x-kgft-response-id"]}
    assert {chunk["model"] for chunk in chunks} == {"kg"}
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert contents(events) == ["kg ", "says: ", "刑法第二百三十二条规定了什么？"]
    finishing, usage_only = chunks[-2], chunks[-1]
    assert finishing["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}
    assert finishing["usage"]["total_tokens"] == PROMPT_TOKENS + COMPLETION_TOKENS
    kgft = finishing["kgft"]
    assert kgft["route"] == "kg" and kgft["response_id"] == headers["x-kgft-response-id"]
    assert kgft["cost"] == {"runtime_usd": "0.000125", "basis": "fixed $0.000125", "priced": True}
    assert kgft["citations"][0]["source"] == "中华人民共和国刑法 第二百三十二条"
    assert kgft["fallback"] is None
    assert usage_only["choices"] == [] and usage_only["usage"] == finishing["usage"]

    [row] = store.rows(LIVE_RUN)
    assert (row.response_id, row.answer_text, row.error) == (kgft["response_id"], ANSWER, None)


def test_a_route_that_fails_mid_stream_ends_it_with_an_error_event_and_no_fallback(tmp_path):
    kg, ft = StreamingFakeRoute("kg", fail_after=1), FakeRoute("ft")
    app, store = make_app(
        tmp_path, {"kg": kg, "ft": ft}, gateway_experiments={"safe": {"arms": {"kg": 1}, "fallback": "ft"}}
    )
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=chat_body(model="safe", stream=True))
        metrics = client.get("/metrics").text
    assert response.status_code == 200  # the headers left with the first word
    events = read_events(response.text.splitlines())
    assert contents(events) == ["kg "]
    assert events[-1] == {
        "error": {
            "message": "route 'kg' failed: RuntimeError: the model server went away",
            "type": "api_error",
            "param": None,
            "code": "route_error",
        }
    }
    assert "[DONE]" not in events
    assert ft.questions == []  # half an answer from kg cannot be finished by ft
    [row] = store.rows(LIVE_RUN)
    assert row.route == "kg" and "went away" in row.error
    assert 'kgft_requests_total{route="kg",status="200"} 1.0' in metrics


def test_a_route_slower_than_its_timeout_mid_stream_ends_with_a_timeout_event(tmp_path):
    hold = threading.Event()
    app, store = make_app(tmp_path, {"kg": StreamingFakeRoute("kg", hold=hold)}, gateway_route_timeout_s=0.3)
    try:
        with TestClient(app) as client:
            response = client.post("/v1/chat/completions", json=chat_body(stream=True))
            hold.set()  # the abandoned call finishes (its late words go nowhere) and is logged at close
    finally:
        hold.set()
    events = read_events(response.text.splitlines())
    assert contents(events) == ["kg "]
    assert events[-1]["error"]["code"] == "route_timeout"
    assert "within 0.3 s" in store.rows(LIVE_RUN)[0].error


def test_a_route_that_fails_before_writing_falls_back_and_the_headers_say_so(tmp_path):
    kg, ft = StreamingFakeRoute("kg", fail_after=0), StreamingFakeRoute("ft")
    app, store = make_app(
        tmp_path, {"kg": kg, "ft": ft}, gateway_experiments={"safe": {"arms": {"kg": 1}, "fallback": "ft"}}
    )
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=chat_body(model="safe", stream=True))
    assert response.status_code == 200
    assert response.headers["x-kgft-route"] == "ft"
    assert response.headers["x-kgft-fallback-from"] == "kg"
    events = read_events(response.text.splitlines())
    assert "".join(contents(events)) == "ft says: 刑法第二百三十二条规定了什么？"
    assert {event["model"] for event in events[:-1]} == {"ft"}
    assert events[-2]["kgft"]["fallback"]["from"] == "kg"
    failed, served = store.rows(LIVE_RUN)  # the failed primary is a row too
    assert (served.route, served.fallback_from) == ("ft", "kg")
    assert failed.route == "kg" and "went away" in failed.error and failed.response_id == served.response_id


def test_a_route_that_fails_before_writing_with_no_fallback_is_a_502_as_for_a_whole_answer(tmp_path):
    app, store = make_app(tmp_path, {"kg": StreamingFakeRoute("kg", fail_after=0)})
    with TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=chat_body(stream=True))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "route_error"
    assert "went away" in store.rows(LIVE_RUN)[0].error


def test_a_streaming_route_asked_without_stream_answers_whole(tmp_path):
    kg = StreamingFakeRoute("kg", hold=threading.Event())  # would block if it were asked to stream
    app, _ = make_app(tmp_path, {"kg": kg})
    with TestClient(app) as client:
        body = client.post("/v1/chat/completions", json=chat_body()).json()
    assert body["choices"][0]["message"]["content"] == ANSWER
    assert not kg.finished.is_set()
