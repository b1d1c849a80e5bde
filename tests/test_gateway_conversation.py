"""The whole conversation reaches the route: system prompt, earlier turns and sampling parameters."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from kgft.contract import GenerationParams, Turn
from tests.gateway_fakes import FakeRoute, chat_body, make_app

CONVERSATION = [
    {"role": "system", "content": "你是法律助手，回答要简短。"},
    {"role": "user", "content": "刑法第二百三十二条规定了什么？"},
    {"role": "assistant", "content": "故意杀人罪。"},
    {"role": "user", "content": [{"type": "text", "text": "那"}, {"type": "text", "text": "刑罚是什么？"}]},
]


@pytest.fixture
def asked(tmp_path):
    """A gateway over one fake kg route; yields the client and the route, which keeps every Question."""
    kg = FakeRoute("kg")
    app, _ = make_app(tmp_path, {"kg": kg})
    with TestClient(app) as client:
        yield client, kg


def test_system_prompt_history_and_params_reach_the_route(asked):
    client, kg = asked
    body = {
        "model": "kg",
        "messages": CONVERSATION,
        "max_tokens": 64,
        "temperature": 0.7,
        "top_p": 0.9,
        "stop": "\n\n",
        "seed": 7,
    }
    response = client.post("/v1/chat/completions", json=body)
    assert response.status_code == 200
    (question,) = kg.questions
    assert question.text == "那刑罚是什么？"
    assert question.history == [
        Turn(role="system", content="你是法律助手，回答要简短。"),
        Turn(role="user", content="刑法第二百三十二条规定了什么？"),
        Turn(role="assistant", content="故意杀人罪。"),
    ]
    assert question.params == GenerationParams(
        max_tokens=64, temperature=0.7, top_p=0.9, stop=["\n\n"], seed=7
    )


def test_a_late_system_message_still_goes_first_and_developer_counts_as_system(asked):
    client, kg = asked
    messages = [
        {"role": "user", "content": "第一问"},
        {"role": "assistant", "content": None},  # a tool call: no text to carry
        {"role": "developer", "content": "只用中文回答"},
        {"role": "user", "content": "第二问"},
    ]
    client.post("/v1/chat/completions", json={"model": "kg", "messages": messages, "stop": ["。", "！"]})
    (question,) = kg.questions
    assert [(turn.role, turn.content) for turn in question.history] == [
        ("system", "只用中文回答"),
        ("user", "第一问"),
    ]
    assert question.params == GenerationParams(stop=["。", "！"])


def test_max_completion_tokens_is_the_budget_and_a_plain_request_asks_for_nothing(asked):
    client, kg = asked
    client.post("/v1/chat/completions", json=chat_body(max_completion_tokens=5, max_tokens=99))
    client.post("/v1/chat/completions", json=chat_body())
    assert kg.questions[0].params == GenerationParams(max_tokens=5)
    assert kg.questions[1].params is None and kg.questions[1].history == []


def test_options_are_still_read_from_the_last_user_message_with_the_history_kept(asked):
    client, kg = asked
    messages = [
        {"role": "system", "content": "你是考试助手"},
        {"role": "user", "content": "下列哪项是故意犯罪？\nA: 过失致人死亡\nB: 故意杀人"},
    ]
    body = client.post("/v1/chat/completions", json={"model": "kg", "messages": messages}).json()
    (question,) = kg.questions
    assert question.options == {"A": "过失致人死亡", "B": "故意杀人"}
    assert question.history == [Turn(role="system", content="你是考试助手")]
    assert body["kgft"]["options_from"] == "text"


@pytest.mark.parametrize(
    ("extra", "param", "says"),
    [
        ({"max_tokens": 10**12}, "max_tokens", "limit of 8192"),
        ({"max_completion_tokens": 8193}, "max_completion_tokens", "limit of 8192"),
        ({"top_p": 1.5}, "top_p", "less than or equal to 1"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop", "at most 4"),
        ({"temperature": 3}, "temperature", "less than or equal to 2"),
        ({"seed": "abc"}, "seed", "integer"),
        ({"seed": 2**70}, "seed", "less than or equal to"),  # beyond what llama.cpp and torch take
    ],
)
def test_out_of_range_parameters_are_a_400_naming_the_param(asked, extra, param, says):
    client, kg = asked
    response = client.post("/v1/chat/completions", json=chat_body(**extra))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert says in error["message"]
    assert kg.questions == []


def test_a_tool_result_is_refused_not_dropped(asked):
    client, _ = asked
    messages = [{"role": "tool", "content": "42"}, {"role": "user", "content": "刑法第二百三十二条？"}]
    error = client.post("/v1/chat/completions", json={"model": "kg", "messages": messages}).json()["error"]
    assert error["param"] == "messages.0.role" and "tool" in error["message"]


def test_the_max_tokens_limit_follows_the_setting(tmp_path):
    kg = FakeRoute("kg")
    app, _ = make_app(tmp_path, {"kg": kg}, max_request_tokens=512)
    with TestClient(app) as client:
        assert client.post("/v1/chat/completions", json=chat_body(max_tokens=512)).status_code == 200
        refused = client.post("/v1/chat/completions", json=chat_body(max_tokens=513))
    assert refused.status_code == 400 and "limit of 512" in refused.json()["error"]["message"]
    assert kg.questions[0].params == GenerationParams(max_tokens=512)
