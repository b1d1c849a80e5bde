"""The fast lane calls the router's own POST handlers, and leaves every other request to the app."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI, Request
from fastapi.testclient import TestClient
from starlette.responses import PlainTextResponse, Response

from gateway.fast_lane import FastLane


def lane_app() -> tuple[FastAPI, list[str]]:
    router = APIRouter()
    seen: list[str] = []

    @router.post("/fast")
    async def fast(request: Request) -> Response:
        seen.append("router" if "endpoint" in request.scope else "lane")
        return PlainTextResponse((await request.body()).decode().upper())

    @router.post("/slow")
    async def slow(request: Request) -> Response:
        seen.append("router")
        return PlainTextResponse("slow")

    app = FastAPI()
    app.include_router(router)
    app.add_middleware(FastLane, router=router, paths=["/fast"])
    return app, seen


def test_the_lane_answers_its_paths_with_the_routers_handler_before_routing():
    app, seen = lane_app()
    with TestClient(app) as client:
        answered = client.post("/fast", content=b"abc")
        other = client.post("/slow")
    assert answered.text == "ABC" and other.text == "slow"
    assert seen == ["lane", "router"]  # the lane's call had no router endpoint in its scope


def test_other_methods_and_paths_are_left_to_the_app():
    app, seen = lane_app()
    with TestClient(app) as client:
        assert client.get("/fast").status_code == 405
        assert client.post("/nowhere").status_code == 404
    assert seen == []


def test_a_lane_path_the_router_lacks_is_refused_at_build_time():
    router = APIRouter()
    with pytest.raises(ValueError, match="/missing"):
        FastLane(FastAPI(), router, ["/missing"])
