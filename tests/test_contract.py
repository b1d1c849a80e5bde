from decimal import Decimal

import pytest
from pydantic import ValidationError

from kgft.contract import (
    Answer,
    Citation,
    Cost,
    GenerationParams,
    Question,
    Route,
    StreamingRoute,
    Timings,
    Turn,
    Usage,
)

ANSWER_FIELDS = {
    "text",
    "choice",
    "route",
    "model",
    "citations",
    "usage",
    "timings",
    "cost",
    "abstained",
    "abstain_reason",
    "diagnostics",
}


def _answer() -> Answer:
    return Answer(
        text="依据《刑法》第二百三十二条，故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑。",
        choice="B",
        route="kg",
        model="deepseek-chat",
        citations=[
            Citation(id="刑法:232", text="故意杀人的，处死刑……", source="中华人民共和国刑法 第二百三十二条")
        ],
        usage=Usage(prompt_tokens=812, completion_tokens=64, reasoning_tokens=0),
        timings=Timings(retrieval_ms=3.2, generation_ms=950.0, total_ms=955.1),
        cost=Cost(
            runtime_usd=Decimal("0.00025424"), basis="812 in × $0.28/M + 64 out × $0.42/M", priced=True
        ),
        diagnostics={"linked": ["刑法"], "facts": 3},
    )


def test_answer_json_round_trips_with_exact_fields_and_decimal_string():
    answer = _answer()
    data = answer.model_dump(mode="json")
    assert set(data) == ANSWER_FIELDS
    assert data["cost"] == {
        "runtime_usd": "0.00025424",
        "basis": "812 in × $0.28/M + 64 out × $0.42/M",
        "priced": True,
    }
    assert set(data["usage"]) == {"prompt_tokens", "completion_tokens", "reasoning_tokens"}
    assert set(data["timings"]) == {"retrieval_ms", "generation_ms", "total_ms"}
    restored = Answer.model_validate_json(answer.model_dump_json())
    assert restored == answer
    assert restored.cost.runtime_usd == Decimal("0.00025424")
    assert "刑法" in answer.model_dump_json()  # Chinese stays readable, not \u-escaped


def test_zero_cost_serialises_as_plain_zero():
    cost = Cost(runtime_usd=Decimal("0E-12"), basis="unpriced: x", priced=False)
    assert cost.model_dump(mode="json")["runtime_usd"] == "0"


def test_question_round_trips_and_validates():
    question = Question(id="q1", text="下列哪项正确？", domain="legal", options={"A": "甲", "B": "乙"})
    assert Question.model_validate_json(question.model_dump_json()) == question
    with pytest.raises(ValidationError, match="domain"):
        Question(id="q2", text="x", domain="finance")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="blank"):
        Question(id="q3", text="   ", domain="medical")
    with pytest.raises(ValidationError, match="capital letters"):
        Question(id="q4", text="x", domain="medical", options={"a": "lower"})


def test_unknown_answer_field_is_rejected():
    data = _answer().model_dump(mode="json") | {"confidence": 0.9}
    with pytest.raises(ValidationError, match="confidence"):
        Answer.model_validate(data)


def test_route_protocol_is_structural():
    class Echo:
        name = "echo"

        def answer(self, question: Question) -> Answer:
            return _answer().model_copy(update={"text": question.text, "route": self.name})

        def answer_batch(self, questions):
            return [self.answer(q) for q in questions]

    route = Echo()
    assert isinstance(route, Route)
    batch = route.answer_batch([Question(id="1", text="hi", domain="legal")])
    assert batch[0].text == "hi"
    assert batch[0].route == "echo"


def test_a_route_that_streams_is_still_a_route_and_one_that_does_not_is_not_a_streaming_route():
    class Whole:
        name = "whole"

        def answer(self, question: Question) -> Answer:
            return _answer().model_copy(update={"text": question.text})

        def answer_batch(self, questions):
            return [self.answer(q) for q in questions]

    class Streaming(Whole):
        def answer_streaming(self, question: Question, on_text) -> Answer:
            on_text(question.text)
            return self.answer(question)

    assert isinstance(Whole(), Route) and not isinstance(Whole(), StreamingRoute)
    assert isinstance(Streaming(), Route) and isinstance(Streaming(), StreamingRoute)


def test_a_question_carries_its_conversation_and_parameters_and_defaults_to_none():
    question = Question(
        id="q1",
        text="那刑罚是什么？",
        domain="legal",
        history=[Turn(role="system", content="简短回答"), Turn(role="user", content="刑法第232条？")],
        params=GenerationParams(max_tokens=64, stop=["\n"]),
    )
    assert Question.model_validate_json(question.model_dump_json()) == question
    bare = Question(id="q2", text="x", domain="legal")
    assert bare.history == [] and bare.params is None
    with pytest.raises(ValidationError, match="role"):
        Turn(role="tool", content="42")  # type: ignore[arg-type]
    for bad in (
        {"max_tokens": 0},
        {"temperature": 2.5},
        {"top_p": -0.1},
        {"stop": list("abcde")},
        {"top_k": 5},
    ):
        with pytest.raises(ValidationError):
            GenerationParams(**bad)
