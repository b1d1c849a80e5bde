"""The gateway as deployed: a real uvicorn server on a real port, real routes built from settings.

The `llm` route talks to a real llama.cpp OpenAI-compatible server; the KG route reads a tiny real
Ladybug graph of three real statute rows and generates through the same server.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
import uvicorn

from gateway.app import create_app
from gateway.keys import KeyTable
from kg_route.ingest import ingest_legal
from kg_route.store import open_store
from kgft.pricing import PriceBook
from kgft.results_store import LIVE_RUN, ResultStore
from kgft.settings import Settings
from tests.openai_server import free_port, openai_server  # noqa: F401

CRIMINAL_LAW = {
    "law_id": "d2da5d066414", "law_name": "中华人民共和国刑法", "doc_type": "法律", "level": "法律",
    "issuing_body": "全国人民代表大会常务委员会", "publish_date": "2020-12-26",
    "effective_date": "1997-10-01", "status": "已被修改", "law_department": "刑法",
}  # fmt: skip
ARTICLES = [
    (232, "第二百三十二条", "第四章 侵犯公民人身权利、民主权利罪",
     "故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑；情节较轻的，处三年以上十年以下有期徒刑。"),
    (233, "第二百三十三条", "第四章 侵犯公民人身权利、民主权利罪",
     "过失致人死亡的，处三年以上七年以下有期徒刑；情节较轻的，处三年以下有期徒刑。本法另有规定的，依照规定。"),
    (264, "第二百六十四条", "第五章 侵犯财产罪",
     "盗窃公私财物，数额较大的，或者多次盗窃、入户盗窃、携带凶器盗窃、扒窃的，处三年以下有期徒刑、拘役或者管制，并处或者单处罚金。"),
]  # fmt: skip
READY_WITHIN_S = 120


def serve(settings: Settings, store: ResultStore) -> Iterator[str]:
    """Runs the gateway in uvicorn on a free port until the generator is closed; yields its base URL."""
    port = free_port()
    app = create_app(settings, PriceBook.load(), store=store)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_WITHIN_S
        while not server.started or httpx.get(f"{base_url}/readyz", timeout=5).status_code != 200:
            assert time.monotonic() < deadline, f"gateway not ready: {httpx.get(f'{base_url}/readyz').text}"
            time.sleep(0.1)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(30)


@pytest.fixture
def llm_gateway(tmp_path, openai_server: str) -> Iterator[tuple[str, str, ResultStore]]:  # noqa: F811
    settings = Settings(
        home=tmp_path,
        max_tokens=8,
        gateway_routes=["llm"],
        gateway_default="llm",
        llm_backend=f"openai:smollm2?base_url={openai_server}",
    )
    store = ResultStore(settings.store_url)
    key = KeyTable(store.engine).create("test-app", 100, Decimal(1))
    yield from ((base_url, key, store) for base_url in serve(settings, store))
    store.close()


def test_chat_completion_over_real_http_through_the_llm_route(llm_gateway):
    base_url, key, store = llm_gateway
    headers = {"Authorization": f"Bearer {key}"}
    body = {"model": "auto", "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    response = httpx.post(f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    completion = response.json()
    assert completion["object"] == "chat.completion" and completion["model"] == "llm"
    assert completion["choices"][0]["message"]["content"].strip()
    assert 0 < completion["usage"]["completion_tokens"] <= 8
    assert completion["usage"]["prompt_tokens"] > 5  # counted by llama.cpp, not estimated
    assert response.headers["x-kgft-route"] == "llm"
    assert response.headers["x-kgft-cost-usd"] == completion["kgft"]["cost"]["runtime_usd"]
    assert completion["kgft"]["model"] == "smollm2"

    streamed = httpx.post(
        f"{base_url}/v1/chat/completions", json=body | {"stream": True}, headers=headers, timeout=60
    )
    lines = [line for line in streamed.text.splitlines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks).strip()

    refused = httpx.post(f"{base_url}/v1/chat/completions", json=body, timeout=10)
    assert refused.status_code == 401
    feedback = {"response_id": completion["id"], "correct": True}
    assert (
        httpx.post(f"{base_url}/v1/feedback", json=feedback, headers=headers, timeout=30).status_code == 200
    )
    rows = {row.response_id: row for row in store.rows(LIVE_RUN)}
    assert rows[completion["id"]].correct is True
    assert rows[completion["id"]].meta["key"] == "test-app"


def test_a_streamed_chat_arrives_token_by_token_from_the_llm_route(llm_gateway):
    base_url, key, store = llm_gateway
    body = {"model": "llm", "messages": [{"role": "user", "content": "Name three colours."}], "stream": True}
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.stream(
        "POST", f"{base_url}/v1/chat/completions", json=body, headers=headers, timeout=60
    ) as sse:
        assert sse.status_code == 200
        assert sse.headers["x-kgft-route"] == "llm"
        lines = [line for line in sse.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    chunks = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks if c["choices"][0]["delta"].get("content")]
    assert len(pieces) > 1  # llama.cpp's tokens, passed on one by one rather than as one whole answer
    finishing = chunks[-1]
    assert 0 < finishing["usage"]["completion_tokens"] <= 8
    assert finishing["kgft"]["route"] == "llm" and finishing["kgft"]["model"] == "smollm2"
    deadline = time.monotonic() + 10
    while not (rows := store.rows(LIVE_RUN)) and time.monotonic() < deadline:
        time.sleep(0.05)  # the gateway writes its log rows in the background
    [row] = rows
    assert row.answer_text == "".join(pieces) and row.response_id == finishing["id"]


def write_statutes(folder: Path) -> Path:
    folder.mkdir()
    (folder / "laws.jsonl").write_text(json.dumps(CRIMINAL_LAW, ensure_ascii=False) + "\n", "utf-8")
    rows = [
        {"law_id": CRIMINAL_LAW["law_id"], "chapter": chapter, "section": None, "article_no": number,
         "article_no_arabic": arabic, "article_text": text, "status": "已被修改"}
        for arabic, number, chapter, text in ARTICLES
    ]  # fmt: skip
    lines = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    (folder / "articles.part1.jsonl").write_text(lines, "utf-8")
    return folder


@pytest.fixture
def kg_gateway(tmp_path, openai_server: str) -> Iterator[str]:  # noqa: F811
    settings = Settings(
        home=tmp_path,
        threads=1,
        max_tokens=8,
        graph=f"ladybug:{tmp_path / 'graph'}",
        kg_backend=f"openai:smollm2?base_url={openai_server}",
        # MCQ by character overlap: over a chat API SmolLM2 asked for a letter often names none (an
        # abstention; that reader is tested in test_plain_route and test_gateway_text_mcq).
        kg_reader="lexical",
        gateway_routes=["kg"],
        gateway_auth=False,
    )
    graph = open_store(settings.graph_url)
    try:
        ingest_legal(graph, write_statutes(tmp_path / "statutes"), settings, PriceBook.load(), progress=False)
    finally:
        graph.close()
    store = ResultStore(settings.store_url)
    yield from serve(settings, store)
    store.close()


def test_the_kg_route_answers_a_statute_question_with_its_article_cited(kg_gateway):
    question = "故意杀人的，刑法第二百三十二条怎么处罚？"
    body = {"model": "kg", "messages": [{"role": "user", "content": question}]}
    response = httpx.post(f"{kg_gateway}/v1/chat/completions", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["x-kgft-route"] == "kg"
    kgft = response.json()["kgft"]
    assert kgft["citations"][0]["source"] == "中华人民共和国刑法 第二百三十二条"
    assert "故意杀人" in kgft["citations"][0]["text"]
    assert response.json()["usage"]["prompt_tokens"] > 50  # the article is in the prompt

    recite = {"model": "kg", "messages": [{"role": "user", "content": "刑法第二百三十二条规定了什么？"}]}
    recited = httpx.post(f"{kg_gateway}/v1/chat/completions", json=recite, timeout=60).json()
    assert recited["choices"][0]["message"]["content"] == kgft["citations"][0]["text"]
    assert recited["usage"]["prompt_tokens"] == 0  # the graph's text, no model call

    mcq = {
        "route": "kg",
        "text": "中华人民共和国刑法第二百三十二条的内容是:",
        "options": {"A": "盗窃公私财物，数额较大的", "B": "故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑"},
    }
    answer = httpx.post(f"{kg_gateway}/v1/answer", json=mcq, timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.json()["choice"] == "B"
    assert answer.headers["x-kgft-route"] == "kg"
