"""The openai: backend against real HTTP servers: llama.cpp serving SmolLM2, and scripted stdlib ones."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient

from kgft.backends import ChatMessage, create_backend
from kgft.backends.base import AsyncGenerating, LLMBackend, generate_args
from kgft.contract import Question
from kgft.errors import BackendUnavailableError, UnsupportedError
from kgft.letter_answers import MAX_REPLY_TOKENS
from kgft.plain_route import build_route as build_plain_route
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.gateway_fakes import make_app
from tests.openai_server import free_port, openai_server  # noqa: F401

QUESTION = [ChatMessage("user", "What is the capital of France?")]
MAX_TOKENS = 12

Scripted = Callable[[int, dict], str]


@pytest.fixture(scope="module")
def smollm2(openai_server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LLMBackend]:  # noqa: F811
    settings = Settings(home=tmp_path_factory.mktemp("home"))
    backend = create_backend(f"openai:smollm2?base_url={openai_server}", settings)
    yield backend
    backend.close()


@pytest.fixture
def scripted(tmp_path) -> Iterator[Scripted]:
    """Starts stdlib HTTP servers that answer every POST with one fixed status and JSON body."""
    servers: list[ThreadingHTTPServer] = []

    def start(status: int, payload: dict) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                body = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _backend(base_url: str, tmp_path) -> LLMBackend:
    return create_backend(f"openai:some-model?base_url={base_url}", Settings(home=tmp_path))


def test_spec_keeps_model_and_base_url(smollm2, openai_server):  # noqa: F811
    assert smollm2.model == "smollm2"
    assert smollm2.spec == f"openai:smollm2?base_url={openai_server}"


def test_answers_with_token_counts_from_the_usage_field(smollm2):
    generation = smollm2.generate(QUESTION, max_tokens=MAX_TOKENS)
    assert generation.text.strip()
    # SmolLM2's template adds a default system turn, so the prompt is far longer than the 7 words asked.
    assert generation.prompt_tokens > 20
    assert 0 < generation.completion_tokens <= MAX_TOKENS
    assert generation.generation_ms > 0
    assert generation.first_token_ms is None
    assert generation.model == "smollm2"


def test_streamed_pieces_join_to_the_text_and_time_the_first_token(smollm2):
    pieces: list[str] = []
    generation = smollm2.generate(QUESTION, max_tokens=MAX_TOKENS, on_text=pieces.append)
    assert len(pieces) > 1
    assert "".join(pieces) == generation.text
    assert generation.first_token_ms is not None
    assert 0 < generation.first_token_ms <= generation.generation_ms
    assert 0 < generation.completion_tokens <= MAX_TOKENS
    assert generation.prompt_tokens > 20


def test_on_an_event_loop_the_answer_is_the_one_a_thread_gets(smollm2):
    threaded = smollm2.generate(QUESTION, max_tokens=MAX_TOKENS)
    assert isinstance(smollm2, AsyncGenerating)
    on_loop = asyncio.run(smollm2.generate_async(QUESTION, **generate_args(None, MAX_TOKENS)))
    again = asyncio.run(smollm2.generate_async(QUESTION, **generate_args(None, MAX_TOKENS)))  # a second loop
    assert on_loop.text == threaded.text == again.text  # temperature 0
    assert (on_loop.prompt_tokens, on_loop.completion_tokens) == (
        threaded.prompt_tokens,
        threaded.completion_tokens,
    )
    assert on_loop.first_token_ms is None and on_loop.generation_ms > 0


def test_a_stop_string_ends_the_answer_early(smollm2):
    free = smollm2.generate(QUESTION, max_tokens=MAX_TOKENS)
    stop = free.text.split()[1]  # temperature 0 is greedy: the same answer would reach this word again
    stopped = smollm2.generate(QUESTION, max_tokens=MAX_TOKENS, stop=[stop])
    assert stop not in stopped.text
    assert stopped.completion_tokens < free.completion_tokens


def test_an_unknown_model_is_unpriced_not_free(smollm2):
    generation = smollm2.generate(QUESTION, max_tokens=4)
    cost = smollm2.cost(generation, PriceBook.load())
    assert cost.priced is False
    assert cost.runtime_usd == 0
    assert cost.basis.startswith("unpriced")


def test_a_user_price_prices_the_reported_tokens(smollm2, tmp_path):
    prices_file = tmp_path / "prices.toml"
    prices_file.write_text('[models.smollm2]\ninput = "0.5"\ncached_input = "0.1"\noutput = "2"\n')
    smollm2.generate(QUESTION, max_tokens=4)
    generation = smollm2.generate(QUESTION, max_tokens=4)
    # llama.cpp reuses the prompt it just processed and reports it as cached, as paid APIs do.
    assert 0 < generation.cached_tokens < generation.prompt_tokens
    cost = smollm2.cost(generation, PriceBook.load(prices_file))
    fresh = generation.prompt_tokens - generation.cached_tokens
    expected = (
        fresh * Decimal("0.5") + generation.cached_tokens * Decimal("0.1") + generation.completion_tokens * 2
    ) / 1_000_000
    assert cost.priced is True
    assert cost.runtime_usd == expected
    assert f"{generation.completion_tokens} out × $2/M" in cost.basis


def test_a_chat_api_says_it_cannot_score_without_asking_it(smollm2):
    assert smollm2.can_score is False


def test_score_is_unsupported_over_a_chat_api(smollm2):
    with pytest.raises(UnsupportedError, match="reader=lexical"):
        smollm2.score(QUESTION, ["Paris", "Lyon"])


def test_a_server_that_is_down_names_its_url(tmp_path):
    base_url = f"http://127.0.0.1:{free_port()}/v1"
    backend = _backend(base_url, tmp_path)
    with pytest.raises(BackendUnavailableError) as caught:
        backend.generate(QUESTION, max_tokens=4)
    message = str(caught.value)
    assert message == f"cannot reach {base_url}: connection refused"
    with pytest.raises(BackendUnavailableError, match="cannot reach"):
        backend.generate(QUESTION, max_tokens=4, on_text=print)
    with pytest.raises(BackendUnavailableError) as on_loop:
        asyncio.run(_generate_on_loop(backend))
    assert str(on_loop.value) == message


async def _generate_on_loop(backend: LLMBackend) -> None:
    assert isinstance(backend, AsyncGenerating)
    await backend.generate_async(QUESTION, **generate_args(None, 4))


def test_an_answer_without_usage_is_refused(scripted, tmp_path):
    completion = {
        "choices": [{"message": {"role": "assistant", "content": "Paris"}, "finish_reason": "stop"}]
    }
    backend = _backend(scripted(200, completion), tmp_path)
    with pytest.raises(BackendUnavailableError, match="no token usage for model 'some-model'"):
        backend.generate(QUESTION, max_tokens=4)
    with pytest.raises(BackendUnavailableError, match="no token usage for model 'some-model'"):
        asyncio.run(_generate_on_loop(backend))


def test_a_rejected_key_says_so_in_one_line(scripted, tmp_path):
    base_url = scripted(401, {"error": {"message": "Incorrect API key provided", "type": "auth"}})
    settings = Settings(home=tmp_path, openai_api_key="sk-wrong")
    backend = create_backend(f"openai:some-model?base_url={base_url}", settings)
    with pytest.raises(BackendUnavailableError) as caught:
        backend.generate(QUESTION, max_tokens=4)
    message = str(caught.value)
    assert "rejected the API key" in message
    assert "Incorrect API key provided" in message
    assert "OPENAI_API_KEY" in message
    assert "sk-wrong" not in message
    assert "\n" not in message
    with pytest.raises(BackendUnavailableError) as on_loop:
        asyncio.run(_generate_on_loop(backend))
    assert str(on_loop.value) == message  # the key was sent on the loop too


def test_a_server_error_reports_status_and_a_truncated_message(scripted, tmp_path):
    backend = _backend(scripted(500, {"error": {"message": "out of memory " * 40}}), tmp_path)
    with pytest.raises(BackendUnavailableError, match="HTTP 500: out of memory") as caught:
        backend.generate(QUESTION, max_tokens=4, on_text=print)
    assert len(str(caught.value)) < 300
    with pytest.raises(BackendUnavailableError) as on_loop:
        asyncio.run(_generate_on_loop(backend))
    assert str(on_loop.value) == str(caught.value)


def test_the_llm_route_answers_an_mcq_over_a_chat_api_by_asking_for_the_letter(openai_server, tmp_path):  # noqa: F811
    """A chat API cannot score, so `auto` asks for the letter; the pick is priced from the API's usage."""
    prices_file = tmp_path / "prices.toml"
    # cached input at the full rate, so the price follows from the usage the answer reports
    prices_file.write_text('[models.smollm2]\ninput = "0.5"\ncached_input = "0.5"\noutput = "2"\n')
    settings = Settings(home=tmp_path, llm_backend=f"openai:smollm2?base_url={openai_server}")
    route = build_plain_route(settings, PriceBook.load(prices_file))
    question = Question(
        id="capital",
        text="What is the capital of France?",
        domain="legal",
        options={"A": "Rome", "B": "Paris", "C": "Madrid", "D": "Berlin"},
    )
    try:
        answer = route.answer(question)
    finally:
        route.close()
    assert answer.diagnostics["mcq_mode"] == "generate"
    assert isinstance(answer.diagnostics["reply"], str)
    if answer.abstained:
        assert answer.choice is None and answer.text == "" and answer.abstain_reason
    else:
        assert answer.choice in question.options
        assert answer.text == f"{answer.choice}. {question.options[answer.choice]}"
    usage = answer.usage
    assert usage.prompt_tokens > 20 and 0 < usage.completion_tokens <= MAX_REPLY_TOKENS
    assert answer.cost.priced
    assert (
        answer.cost.runtime_usd
        == (usage.prompt_tokens * Decimal("0.5") + usage.completion_tokens * 2) / 1_000_000
    )


def test_the_gateway_passes_stop_and_max_tokens_through_to_a_real_server(openai_server, tmp_path):  # noqa: F811
    """Gateway → llm route → openai: backend → llama.cpp server: a budget ends in `length` after exactly
    that many tokens, and a stop string ends the reply before it, with `stop`."""
    settings = Settings(home=tmp_path, llm_backend=f"openai:smollm2?base_url={openai_server}")
    route = build_plain_route(settings, PriceBook.load())
    app, _ = make_app(tmp_path, {"llm": route})
    conversation = [
        {"role": "system", "content": "You are a geography teacher."},
        {"role": "user", "content": "What is the capital of France?"},
    ]
    try:
        with TestClient(app) as client:

            def ask(**params: object) -> dict:
                body = {"model": "llm", "messages": conversation, "seed": 1, "top_p": 1.0, **params}
                response = client.post("/v1/chat/completions", json=body)
                assert response.status_code == 200, response.text
                return response.json()

            budgeted = ask(max_tokens=5)
            assert budgeted["choices"][0]["finish_reason"] == "length"
            assert budgeted["usage"]["completion_tokens"] == 5
            free = ask(max_tokens=MAX_TOKENS)["choices"][0]["message"]["content"]
            stop = free.split()[1]  # greedy: the same reply would reach this word again
            stopped = ask(max_tokens=MAX_TOKENS, stop=stop)
            assert stopped["choices"][0]["finish_reason"] == "stop"
            reply = stopped["choices"][0]["message"]["content"]
            assert stop not in reply and free.startswith(reply.rstrip())
            assert stopped["usage"]["completion_tokens"] < MAX_TOKENS
    finally:
        route.close()
