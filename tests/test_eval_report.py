"""Summary figures checked against hand arithmetic, and the HTML report checked in a real browser."""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from eval.report import write_report
from eval.stats import mcnemar_exact_p
from eval.summary import build_summary
from kgft.ledger import LedgerEntry
from kgft.results_store import ResultRow
from tests.chromium import CHROMIUM, CHROMIUM_FLAGS

CATEGORIES = ("刑法", "民法", "cardiology", "contract <law>")  # <law>: user text that must be escaped
ITEMS = 200
# Per block of ten items: KG right on 0-7, FT right on 0-4 and 8. So both 0-4, only KG 5-7, only FT 8.
KG_RIGHT = {0, 1, 2, 3, 4, 5, 6, 7}
FT_RIGHT = {0, 1, 2, 3, 4, 8}
KG_RUNTIME = Decimal("0.0002")
FT_RUNTIME = Decimal("0.0001")


def _row(
    route: str, i: int, correct: bool | None, cost: Decimal, latency_ms: float, **extra: Any
) -> ResultRow:
    return ResultRow(
        run_id="r1",
        item_id=f"q{i:03d}",
        route=route,
        question=f"问题 {i}",
        answer_text="A",
        runtime_cost_usd=cost,
        gold="A",
        category=CATEGORIES[i % len(CATEGORIES)],
        choice="A",
        correct=correct,
        prompt_tokens=800,
        completion_tokens=60,
        latency_ms=latency_ms,
        **({"meta": {"model": f"{route}-model", "reader": "llm"}} | extra),
    )


def _rows() -> list[ResultRow]:
    rows = [_row("kg", i, i % 10 in KG_RIGHT, KG_RUNTIME, 100.0 + i) for i in range(ITEMS)]
    for i in range(ITEMS):
        if i == 9:  # an errored row with no verdict still counts as a wrong answer
            rows.append(_row("ft", i, None, Decimal(0), 0.0, error="TimeoutError: no answer"))
        else:
            rows.append(_row("ft", i, i % 10 in FT_RIGHT, FT_RUNTIME, 50.0 + i))
    return rows


def _ledger() -> list[LedgerEntry]:
    return [
        LedgerEntry("kg", "kg_ingest", "刑法 graph <ingest>", Decimal("30"), "2 h × $15/h", True),
        LedgerEntry("kg", "expert_hours", "schema review", Decimal("90"), "3 h × $30/h", True),
        LedgerEntry("ft", "training_run", "LoRA 5 epochs", Decimal("500"), "H100 10 h", True),
        LedgerEntry("ft", "distillation", "teacher traces", Decimal("100"), "tokens", True),
        LedgerEntry("ft", "training_run", "failed run on a borrowed box", Decimal("0"), "unknown", False),
    ]


@pytest.fixture(scope="module")
def summary() -> dict[str, Any]:
    return build_summary(_rows(), _ledger(), dataset="jec-qa 样例", monthly_queries=10_000, months=12)


def test_route_figures_match_hand_arithmetic(summary: dict[str, Any]) -> None:
    kg, ft = summary["routes"]["kg"], summary["routes"]["ft"]
    assert (kg["n"], kg["n_scored"], kg["accuracy"]) == (200, 200, 0.8)
    assert (ft["n"], ft["n_scored"], ft["errors"], ft["accuracy"]) == (200, 200, 1, 0.6)
    low, high = kg["accuracy_ci95"]
    assert 0.73 < low < 0.8 < high < 0.86
    # all-in = runtime + build / (10,000 × 12): KG 0.0002 + 120/120000, FT mean runtime + 600/120000
    assert Decimal(kg["all_in_cost_per_query_usd"]) == Decimal("0.0012")
    ft_runtime = FT_RUNTIME * 199 / 200
    assert Decimal(ft["cost_per_query_usd"]) == ft_runtime
    assert Decimal(ft["all_in_cost_per_query_usd"]) == ft_runtime + Decimal(600) / Decimal(120_000)
    assert Decimal(kg["all_in_cost_per_correct_usd"]) == Decimal("0.0015")  # 0.0012 / 0.8
    assert (kg["build_cost_usd"], ft["build_cost_usd"]) == ("120", "600")
    assert (kg["unpriced_build_entries"], ft["unpriced_build_entries"]) == (0, 1)
    assert (kg["costs_complete"], ft["costs_complete"]) == (True, False)
    assert kg["latency_ms_p50"] == 199.5  # 100..299 ms
    assert ft["latency_ms_p50"] == 150.0  # 50..249 ms less the errored row's missing timing (item 9)
    assert kg["categories"]["刑法"] == {
        "n_scored": 50,
        "accuracy": 0.8,
        "n_answered_scored": 50,
        "accuracy_without_abstentions": 0.8,
    }
    assert kg["tokens"]["prompt_mean"] == 800
    assert [e["kind"] for e in ft["build_entries"]] == ["training_run", "distillation", "training_run"]


def test_comparison_is_kg_minus_ft_with_paired_statistics(summary: dict[str, Any]) -> None:
    comparison = summary["comparison"]
    assert (comparison["a"], comparison["b"], comparison["n_paired"]) == ("kg", "ft", 200)
    assert (comparison["only_a_correct"], comparison["only_b_correct"]) == (60, 20)
    assert comparison["accuracy_diff"] == 0.2
    low, high = comparison["ci95"]
    assert 0.1 < low < 0.2 < high < 0.3
    kg_wins = [i % 10 in KG_RIGHT for i in range(ITEMS)]
    ft_wins = [i % 10 in FT_RIGHT for i in range(ITEMS)]
    assert comparison["mcnemar_p"] == pytest.approx(mcnemar_exact_p(kg_wins, ft_wins), abs=1e-6)
    # v = (B_ft − B_kg) / ((r_kg − r_ft) × months) = 480 / ((0.0002 − 0.0000995) × 12)
    expected = Decimal(480) / ((KG_RUNTIME - FT_RUNTIME * 199 / 200) * 12)
    assert Decimal(comparison["break_even_queries_per_month"]) == expected.quantize(Decimal("1e-10"))
    assert "200" in comparison["sample_size"]
    assert set(summary["comparisons"]) == {"kg_vs_ft"}


def test_verdict_names_the_winner_and_flags_unpriced_costs(summary: dict[str, Any]) -> None:
    verdict = summary["verdict"]
    assert verdict.startswith("KG route +20.0 pts accuracy vs the FT route")
    assert "McNemar p<0.001" in verdict
    assert "24% of the FT route's all-in $/query at 10k queries/month" in verdict  # 0.0012 / 0.0050995
    assert "Costs are INCOMPLETE (the FT route has 1 unpriced build entry)" in verdict
    assert "the FT route is cheaper above 398,010 queries/month" in verdict


def test_summary_is_json_ready_with_the_required_keys(summary: dict[str, Any]) -> None:
    decoded = json.loads(json.dumps(summary, ensure_ascii=False))
    for key in ("dataset", "kg_derived", "monthly_queries", "amortization_months", "generated_at", "notes"):
        assert key in decoded
    for route in decoded["routes"].values():
        for key in ("n", "accuracy", "cost_per_query_usd", "all_in_cost_per_query_usd", "latency_ms_p50"):
            assert key in route
    for key in ("accuracy_diff", "ci95", "mcnemar_p", "break_even_queries_per_month", "cost_diff_ci95_usd"):
        assert key in decoded["comparison"]


def test_no_difference_is_said_when_the_interval_covers_zero() -> None:
    rows = [_row("kg", i, i % 2 == 0, KG_RUNTIME, 10.0) for i in range(40)]
    rows += [_row("ft", i, i % 2 == 0 if i != 3 else True, FT_RUNTIME, 10.0) for i in range(40)]
    summary = build_summary(rows, [], dataset="d", monthly_queries=10_000, months=12, kg_derived=True)
    assert summary["verdict"].startswith("No significant accuracy difference between the KG route and the FT")
    assert "favours the KG route" in summary["verdict"]
    assert summary["comparison"]["break_even_queries_per_month"] is None  # no build costs on either side


def test_one_route_has_no_comparison() -> None:
    rows = [row for row in _rows() if row.route == "kg"]
    summary = build_summary(rows, _ledger(), dataset="d", monthly_queries=10_000, months=12)
    assert summary["comparison"] is None
    assert summary["comparisons"] == {}
    assert "no second route" in summary["verdict"]


def test_caller_order_sets_the_main_pair_and_all_pairs_are_compared() -> None:
    rows = _rows() + [_row("llm", i, i % 10 < 5, Decimal("0.00005"), 80.0) for i in range(ITEMS)]
    summary = build_summary(
        rows, _ledger(), dataset="d", monthly_queries=10_000, months=12, routes=["ft", "kg", "llm"]
    )
    assert summary["comparison"]["direction"] == "ft − kg"
    assert summary["comparison"]["accuracy_diff"] == -0.2
    assert set(summary["comparisons"]) == {"ft_vs_kg", "ft_vs_llm", "kg_vs_llm"}
    assert summary["verdict"].startswith("FT route -20.0 pts accuracy vs the KG route")


def test_live_traffic_without_verdicts_still_reports(tmp_path: Path) -> None:
    rows = [replace(row, correct=None, source="live") for row in _rows()]
    summary = build_summary(rows, [], dataset="live", monthly_queries=10_000, months=12)
    assert summary["routes"]["kg"]["accuracy"] is None
    assert summary["comparison"]["n_paired"] == 0
    assert summary["comparison"]["mcnemar_p"] is None
    assert summary["verdict"].startswith("The KG route and the FT route share no scored items")
    html = write_report(summary, rows, tmp_path)["html"].read_text("utf-8")
    assert html.count("<svg") == 4 and "no data for this figure" in html


@pytest.fixture(scope="module")
def report(summary: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_report(summary, _rows(), tmp_path_factory.mktemp("report"))


def test_report_files_are_written(report: dict[str, Path]) -> None:
    html = report["html"].read_text("utf-8")
    # Self-contained: nothing is fetched (SVG namespace URIs are names, never loaded).
    assert not re.search(r"(src|href)=\"(?!#)|url\((?!#)|@import", html)
    assert "contract &lt;law&gt;" in html and "contract <law>" not in html
    assert html.count("<svg") == 4
    assert json.loads(report["json"].read_text("utf-8"))["routes"]["kg"]["accuracy"] == 0.8
    markdown = report["md"].read_text("utf-8")
    assert "| kg | kg-model | llm | 200 | 200 | 80.0%" in markdown
    assert "刑法 graph &lt;ingest>" in markdown and "p<0.001" in markdown


def _chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    flags = ["--headless", *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    return subprocess.run(
        [str(CHROMIUM), *flags, *args], capture_output=True, text=True, timeout=60, check=True
    )


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium to render the report")


@needs_chromium
def test_report_renders_in_a_browser(report: dict[str, Path], tmp_path: Path) -> None:
    from PIL import Image, ImageStat

    url = report["html"].resolve().as_uri()
    dom = _chromium(tmp_path, "--dump-dom", url).stdout
    for plot_id in ("plot-accuracy-cost", "plot-break-even", "plot-latency", "plot-categories"):
        start = dom.index(f'id="{plot_id}"')
        figure = dom[start : dom.index("</figure>", start)]
        assert "<svg" in figure and "<path" in figure and "<figcaption>" in figure
    assert 'id="verdict"' in dom and "KG route +20.0 pts" in dom

    screenshot = tmp_path / "report.png"
    _chromium(tmp_path, f"--screenshot={screenshot}", "--window-size=1280,4000", url)
    with Image.open(screenshot) as image:
        assert image.size == (1280, 4000)
        spread = ImageStat.Stat(image.convert("L")).stddev[0]
        colours = len(image.convert("RGB").getcolors(maxcolors=1 << 20) or [])
    assert spread > 20 and colours > 50  # text, tables and plots, not a blank page
