"""kgft's own request bodies: a Question for /v1/answer, a verdict for /v1/feedback.

These are strict (unknown fields are an error), like the contract they carry.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from gateway.errors import validation_error
from gateway.routing import AUTO
from gateway.service import Served
from kgft.contract import Domain, Question


class AnswerRequest(BaseModel):
    """A Question whose id is optional, plus which route or experiment should answer it."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(default=None, min_length=1, max_length=200)
    text: str
    domain: Domain | None = None
    options: dict[str, str] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    route: str | None = Field(default=None, min_length=1)
    model: str | None = Field(default=None, min_length=1)
    user: str | None = None

    @model_validator(mode="after")
    def _one_target(self) -> AnswerRequest:
        if self.route and self.model and self.route != self.model:
            raise ValueError(f"route '{self.route}' and model '{self.model}' disagree; send one of them")
        return self

    @property
    def target(self) -> str:
        return self.route or self.model or AUTO

    def question(self, response_id: str, default_domain: Domain) -> Question:
        """The response id is the question id the routes see; a client's own id is kept in metadata."""
        metadata = self.metadata | ({"client_id": self.id} if self.id else {})
        try:
            return Question(
                id=response_id,
                text=self.text,
                domain=self.domain or default_domain,
                options=self.options,
                metadata=metadata,
            )
        except ValidationError as exc:
            raise validation_error(exc) from exc


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    response_id: str = Field(min_length=1, max_length=100)
    correct: bool | None = None
    rating: int | None = Field(default=None, ge=1, le=5)

    @model_validator(mode="after")
    def _something(self) -> FeedbackRequest:
        if self.correct is None and self.rating is None:
            raise ValueError("send `correct` (true/false), `rating` (1-5), or both")
        return self


def answer_body(served: Served, cost: dict[str, Any]) -> bytes:
    """The Answer as the contract serialises it, plus what the gateway adds."""
    body = served.answer.model_dump(mode="json")
    body["cost"] = cost
    body["response_id"] = served.response_id
    body["fallback"] = served.fallback
    body["experiment"] = served.plan.experiment
    return orjson.dumps(body)
