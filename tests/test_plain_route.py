"""The `llm` route over SmolLM2 in llama.cpp, in process: streamed and whole answers are the same answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kgft.backends.base import ChatMessage
from kgft.contract import GenerationParams, Question, StreamingRoute, Turn
from kgft.letter_answers import MAX_REPLY_TOKENS
from kgft.plain_route import PlainRoute, build_route
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.recording_backend import RecordingBackend

OPEN = Question(id="open", text="Name three colours.", domain="legal")
MCQ = Question(
    id="mcq", text="What is the capital of France?", domain="legal", options={"A": "Paris", "B": "Rome"}
)


@pytest.fixture(scope="module")
def route(tmp_path_factory) -> Iterator[PlainRoute]:
    settings = Settings(
        home=tmp_path_factory.mktemp("home"), threads=1, max_tokens=8, llm_backend="gguf:smollm2"
    )
    plain = build_route(settings, PriceBook.load())
    yield plain
    plain.close()


def test_streamed_pieces_join_to_the_answer_a_whole_call_gives(route):
    pieces: list[str] = []
    streamed = route.answer_streaming(OPEN, pieces.append)
    assert isinstance(route, StreamingRoute)
    assert len(pieces) > 1 and "".join(pieces) == streamed.text
    whole = route.answer(OPEN)
    assert streamed.text == whole.text  # greedy: the same tokens either way
    assert streamed.usage == whole.usage and 0 < streamed.usage.completion_tokens <= 8


def test_an_option_pick_is_streamed_as_one_piece(route):
    pieces: list[str] = []
    answer = route.answer_streaming(MCQ, pieces.append)
    assert answer.choice in MCQ.options
    assert pieces == [answer.text] == [f"{answer.choice}. {MCQ.options[answer.choice]}"]
    assert answer.diagnostics["mcq_mode"] == "score"  # auto: llama.cpp in process can score
    assert answer.usage.completion_tokens == 0


def test_generate_mode_asks_the_same_model_for_the_letter_and_prices_its_seconds(route):
    asking = PlainRoute(route.backend, route.prices, max_tokens=8, mcq_mode="generate")
    answer = asking.answer(MCQ)
    assert answer.diagnostics["mcq_mode"] == "generate"
    assert answer.choice in (None, *MCQ.options)
    assert answer.abstained is (answer.choice is None)
    assert 0 < answer.usage.completion_tokens <= MAX_REPLY_TOKENS
    assert answer.usage.prompt_tokens > len(MCQ.text.split())  # the options and the instruction were asked
    assert answer.cost == route.prices.compute_cost("auto", answer.timings.generation_ms / 1000, cores=1)


def test_the_history_comes_before_the_question_and_the_askers_params_replace_the_defaults():
    backend = RecordingBackend("Red, green, blue.", 40, 6, 10.0)
    plain = PlainRoute(backend, PriceBook.load(), max_tokens=8)  # type: ignore[arg-type]
    history = [
        Turn(role="system", content="Be terse."),
        Turn(role="user", content="Hi"),
        Turn(role="assistant", content="Hello."),
    ]
    params = GenerationParams(max_tokens=30, temperature=1.2, top_p=0.8, stop=["."], seed=42)
    plain.answer(OPEN.model_copy(update={"history": history, "params": params}))
    plain.answer(OPEN)
    (asked, asked_kwargs), (plain_messages, plain_kwargs) = backend.calls
    assert asked == [
        ChatMessage("system", "Be terse."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello."),
        ChatMessage("user", OPEN.text),
    ]
    assert asked_kwargs == {
        "max_tokens": 30,
        "temperature": 1.2,
        "stop": (".",),
        "top_p": 0.8,
        "seed": 42,
        "on_text": None,
    }
    assert plain_messages == [ChatMessage("user", OPEN.text)]
    assert plain_kwargs == {
        "max_tokens": 8,
        "temperature": 0.0,
        "stop": (),
        "top_p": None,
        "seed": None,
        "on_text": None,
    }
