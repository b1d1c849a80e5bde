"""Every refusal leaves as OpenAI's error JSON, so clients written for OpenAI show its message as is."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

Body = TypeVar("Body", bound=BaseModel)


class ApiError(Exception):
    """A request the gateway refuses or could not answer; `reason` labels it in /metrics."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        reason: str = "invalid",
        headers: dict[str, str] | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.code = code
        self.param = param
        self.reason = reason
        self.headers = headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.message, self.type, self.code, self.param, self.headers)


def error_response(
    status: int,
    message: str,
    type: str,
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body = {"error": {"message": message, "type": type, "param": param, "code": code}}
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def invalid(message: str, param: str | None = None) -> ApiError:
    return ApiError(400, message, param=param, code="invalid_request")


def parse(model: type[Body], body: bytes) -> Body:
    """A request body as `model`, or a 400 naming the first problem by its JSON path."""
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise validation_error(exc) from exc


def validation_error(exc: ValidationError) -> ApiError:
    first = exc.errors(include_url=False)[0]
    if first["type"] == "json_invalid":
        return invalid(f"request body is not valid JSON: {first['msg']}")
    where = ".".join(str(part) for part in first["loc"]) or "body"
    return invalid(f"{where}: {first['msg']}", param=where)
