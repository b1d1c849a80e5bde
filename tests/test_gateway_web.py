"""The web page in a real browser against a real server: both routes side by side, and the report links."""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from decimal import Decimal
from pathlib import Path

import pytest
import uvicorn

from gateway.app import create_app
from gateway.keys import KeyTable
from kgft.contract import Answer, Citation, Cost, Question, Timings
from kgft.pricing import PriceBook
from kgft.results_store import ResultStore
from kgft.settings import Settings
from tests.chromium import CHROMIUM, CHROMIUM_FLAGS

# Model text with markup: the page must show it as text, never parse it.
KG_TEXT = "A. 故意杀人的，处死刑 <b>kg</b>"
FT_TEXT = "A <img src=x onerror=alert(1)>"


class FixedRoute:
    """Answers at once with a known text, citation and cost."""

    def __init__(self, name: str, text: str, citations: list[Citation], cost_usd: str):
        self.name = name
        self.text = text
        self.citations = citations
        self.cost_usd = cost_usd
        self.asked: list[Question] = []

    def answer(self, question: Question) -> Answer:
        self.asked.append(question)
        return Answer(
            text=self.text,
            choice="A",
            route=self.name,
            model=f"{self.name}-model",
            citations=self.citations,
            timings=Timings(total_ms=12.5),
            cost=Cost(runtime_usd=Decimal(self.cost_usd), basis="fixed test price", priced=True),
        )

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        return [self.answer(question) for question in questions]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, FixedRoute], Path]]:
    """A uvicorn server in a thread: the gateway app with two fixed routes, auth on, reports in tmp/runs."""
    settings = Settings(home=tmp_path / "home", reports_dir=tmp_path / "runs")
    keys = ResultStore(settings.store_url)
    key = KeyTable(keys.engine).create("web-test", rpm=600, budget_usd=Decimal(10))
    keys.close()
    statute = Citation(
        id="article:232", text="故意杀人的，处死刑、无期徒刑", source="中华人民共和国刑法 第二百三十二条"
    )
    routes = {
        "kg": FixedRoute("kg", KG_TEXT, [statute], "0.000123"),
        "ft": FixedRoute("ft", FT_TEXT, [], "0.0045"),
    }
    reports = tmp_path / "runs"
    (reports / "legal-2026").mkdir(parents=True)
    (reports / "legal-2026" / "report.html").write_text("<h1>legal run report</h1>", "utf-8")
    (reports / "legal-2026" / "results.db").write_text("private", "utf-8")
    (reports / "half-run").mkdir()  # no report.html yet: not listed
    app = create_app(settings, PriceBook.load(), routes=routes, inline_routes=list(routes))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", key, routes, tmp_path
    server.should_exit = True
    thread.join(10)


def _raw_get(base: str, path: str) -> int:
    """A GET whose path is sent byte for byte: no client-side '..' clean-up."""
    host, port = base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_report_files_are_served_only_inside_listed_report_folders(served) -> None:
    base, _, _, _ = served
    assert _raw_get(base, "/reports/legal-2026/report.html") == 200
    for path in (
        "/reports/../../etc/passwd",
        "/reports/legal-2026/../../../etc/passwd",
        "/reports/legal-2026/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/reports/..%2F..%2Fetc/passwd",
        "/reports/legal-2026/results.db",  # not a report asset
        "/reports/half-run/report.html",  # not listed
    ):
        assert _raw_get(base, path) == 404, path


def test_page_asks_both_routes_and_shows_answers_citations_and_cost(served) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    base, key, routes, tmp_path = served
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(base + "/")

            page.fill("#api-key", key)
            page.select_option("#domain", "legal")
            page.fill("#question", "刑法第二百三十二条规定了什么？")
            page.fill("[data-option=A]", "故意杀人的，处死刑")
            page.fill("[data-option=B]", "盗窃公私财物")
            page.click("#ask-button")

            kg, ft = page.locator(".panel[data-route=kg]"), page.locator(".panel[data-route=ft]")
            sync_api.expect(kg.locator(".text")).to_have_text(KG_TEXT)
            sync_api.expect(ft.locator(".text")).to_have_text(FT_TEXT)
            assert kg.locator(".citations li").count() == 1
            assert "中华人民共和国刑法 第二百三十二条" in kg.locator(".citations").inner_text()
            assert "$0.000123" in kg.locator(".cost").inner_text()
            assert "$0.0045" in ft.locator(".cost").inner_text()
            assert "12.5 ms" in ft.locator(".latency").inner_text()
            assert kg.locator(".text b").count() == 0 and ft.locator(".text img").count() == 0
            assert dialogs == []

            asked = [route.asked[0] for route in routes.values()]
            assert {question.domain for question in asked} == {"legal"}
            assert asked[0].options == {"A": "故意杀人的，处死刑", "B": "盗窃公私财物"}

            link = page.locator("#reports a")
            sync_api.expect(link).to_have_count(1)
            assert link.get_attribute("href") == "/reports/legal-2026/report.html"
            page.screenshot(path=str(tmp_path / "web.png"), full_page=True)

            link.click()
            sync_api.expect(page.locator("h1")).to_have_text("legal run report")

            # The key is remembered by the browser, not the server.
            page.goto(base + "/")
            assert page.input_value("#api-key") == key
        finally:
            browser.close()
    assert (tmp_path / "web.png").stat().st_size > 10_000


def test_page_shows_the_gateway_refusal_without_a_key(served) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    base, _, routes, _ = served
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.goto(base + "/")
            page.fill("#question", "头痛怎么办？")
            page.click("#ask-button")
            status = page.locator(".panel[data-route=kg] .status")
            sync_api.expect(status).to_contain_text("HTTP 401")
            sync_api.expect(status).to_have_class("status error")
        finally:
            browser.close()
    assert all(not route.asked for route in routes.values())
