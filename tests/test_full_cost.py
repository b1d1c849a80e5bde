"""The full cost (issue 14): builds booked where routes run, prices that follow the hardware, fixed costs
in the break-even, ledger kinds and projects, worked scenarios, and unpriced error rows."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import torch

import gateway.route_table as route_table
from eval.costs import (
    BaseModelShare,
    RouteCosts,
    all_in_per_query,
    break_even_queries_per_month,
    manual_entry,
)
from eval.report.markdown import render_markdown
from eval.scenario import load_scenario, render_scenario, scenario_summary
from eval.summary import build_summary
from ft_route.train.ledger_entry import run_cost
from kgft.builds import Build, book_builds
from kgft.card_costs import trained_model_build
from kgft.contract import Answer, Question
from kgft.hardware import Hardware
from kgft.ledger import Ledger, LedgerEntry
from kgft.ledger_kinds import LedgerError, check_entry
from kgft.pricing import PriceBook
from kgft.projects import graph_config, model_config
from kgft.results_store import ResultRow
from kgft.settings import Settings
from kgft.trained_model import SHIPPED_MODEL_DIR
from tests.cli_env import shared_model_cache

KGFT = str(Path(sys.executable).parent / "kgft")
GRAPH = graph_config("ladybug:/home/graph")


def _card() -> dict[str, Any]:
    return json.loads((SHIPPED_MODEL_DIR / "training_card.json").read_text("utf-8"))


# --- 1. build costs booked where the route runs ------------------------------------------------------
class BuiltRoute:
    """A route that reads a graph and serves a trained model, as hybrid does."""

    name = "hybrid"

    def __init__(self, builds: list[Build]):
        self._builds = builds

    def answer(self, question: Question) -> Answer:
        raise NotImplementedError

    def answer_batch(self, questions: Sequence[Question]) -> list[Answer]:
        raise NotImplementedError

    def builds(self) -> list[Build]:
        return self._builds


def test_the_shipped_cards_cost_is_booked_once_and_not_again_over_an_old_demo_line(tmp_path):
    card = _card()
    build = trained_model_build(SHIPPED_MODEL_DIR)
    assert build.config == model_config(card["data_hash"]) == f"ft-data {card['data_hash'][:12]}"
    [entry] = build.entries
    assert (entry.route, entry.kind, entry.cost_usd) == ("ft", "training_run", Decimal(card["cost_usd"]))

    ledger = Ledger(tmp_path / "ledger.jsonl")
    route = BuiltRoute([Build("graph", GRAPH), build])
    first = book_builds("hybrid", route, ledger)
    again = book_builds("hybrid", route, ledger)
    assert (len(first.booked), len(again.booked), again.already) == (1, 0, 1)
    assert "already in the ledger" in again.line()

    # A home where the old `kgft demo` booked the card (no id, no config) books nothing more.
    old = tmp_path / "old.jsonl"
    old_line = {
        "route": "ft",
        "kind": "training_run",
        "description": "from the card",
        "cost_usd": card["cost_usd"],
        "basis": "…",
        "priced": True,
        "meta": {"data_hash": card["data_hash"], "from_card": True},
        "at": "2025-01-01T00:00:00+00:00",
    }
    old.write_text(json.dumps(old_line) + "\n", "utf-8")
    assert Ledger(old).book(build.entries) == []


def test_a_cards_lineage_books_every_run_behind_the_model_once(tmp_path):
    card = _card() | {
        "lineage": [
            {"id": "run-a", "kind": "failed_run", "description": "OOM at step 3", "cost_usd": "0.40",
             "basis": "b", "priced": True, "seconds": 10.0, "tokens": 5, "at": "t1", "meta": {}},
            {"id": "run-b", "kind": "ablation", "description": "lr trial", "cost_usd": "1.10",
             "basis": "b", "priced": True, "seconds": 20.0, "tokens": 5, "at": "t2", "meta": {}},
            {"id": "run-c", "kind": "training_run", "description": "final", "cost_usd": "2.50",
             "basis": "b", "priced": True, "seconds": 30.0, "tokens": 5, "at": "t3", "meta": {}},
        ]
    }  # fmt: skip
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "training_card.json").write_text(json.dumps(card), "utf-8")
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(LedgerEntry("ft", "failed_run", "already here", Decimal("0.40"), "b", True, id="run-a"))

    booking = book_builds("ft", BuiltRoute([trained_model_build(tmp_path / "model")]), ledger)
    assert [entry.id for entry in booking.booked] == ["run-b", "run-c"]
    assert sum(entry.cost_usd for entry in ledger.entries()) == Decimal("4.00")


def _rows(route: str, builds: list[dict[str, str]], *, domain: str = "legal", n: int = 4) -> list[ResultRow]:
    return [
        ResultRow(
            run_id="r",
            item_id=f"q{i}",
            route=route,
            question="问",
            answer_text="A",
            runtime_cost_usd=Decimal("0.001"),
            correct=i % 2 == 0,
            choice="A",
            gold="A",
            meta={"model": f"{route}-model", "reader": "llm", "domain": domain, "builds": builds},
        )
        for i in range(n)
    ]


def test_a_route_whose_build_has_no_ledger_entry_is_incomplete_and_the_verdict_says_so_loudly():
    model = {"what": "SmolLM2 + lora", "config": model_config("ab" * 32)}
    rows = _rows("kg", [{"what": "graph", "config": GRAPH}]) + _rows("ft", [model])
    ingest = LedgerEntry("kg", "kg_ingest", "ingest", Decimal("3"), "b", True, config=GRAPH, domain="legal")
    training = LedgerEntry("ft", "training_run", "card", Decimal("7"), "b", True, config=model["config"])

    summary = build_summary(rows, [ingest], dataset="d", monthly_queries=1000, months=10)
    ft = summary["routes"]["ft"]
    assert (summary["routes"]["kg"]["costs_complete"], ft["costs_complete"]) == (True, False)
    assert ft["missing_builds"] == [model]
    assert "Costs are INCOMPLETE (the FT route has no build entry for SmolLM2 + lora)" in summary["verdict"]
    assert "FT route: ft-model, llm reader" in summary["verdict"]

    booked = build_summary(rows, [ingest, training], dataset="d", monthly_queries=1000, months=10)
    assert booked["routes"]["ft"]["costs_complete"] is True
    assert booked["routes"]["ft"]["build_cost_usd"] == "7"
    # 0.001 + 7 / (1000 × 10)
    assert booked["routes"]["ft"]["all_in_cost_per_query_usd"] == "0.0017"
    assert "INCOMPLETE" not in booked["verdict"]


def test_two_projects_in_one_home_do_not_mix_and_old_lines_still_read(tmp_path):
    path = tmp_path / "ledger.jsonl"
    ledger = Ledger(path)
    ledger.append(
        LedgerEntry("kg", "kg_ingest", "legal", Decimal("3"), "b", True, domain="legal", config=GRAPH)
    )
    ledger.append(
        LedgerEntry("kg", "kg_ingest", "med", Decimal("50"), "b", True, domain="medical", config=GRAPH)
    )
    ledger.append(
        LedgerEntry("kg", "kg_ingest", "other graph", Decimal("900"), "b", True, config="graph bolt://x")
    )
    old = {"route": "kg", "kind": "expert_hours", "description": "old line", "cost_usd": "2", "basis": "b",
           "priced": True, "seconds": 0.0, "tokens": 0, "meta": {}, "at": "2025-01-01"}  # fmt: skip
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(old) + "\n")

    entries = ledger.entries()
    assert entries[-1].id.startswith("line-") and entries[-1].project.domain is None
    rows = _rows("kg", [{"what": "graph", "config": GRAPH}])
    summary = build_summary(rows, entries, dataset="d", monthly_queries=1000, months=10)
    assert summary["routes"]["kg"]["build_cost_usd"] == "5"  # legal ingest + the old route-wide line


# --- 2. prices follow the hardware -------------------------------------------------------------------
def test_a_gpu_is_priced_by_its_name_and_an_unknown_one_is_unpriced_never_the_cpu_rate():
    book = PriceBook.load()
    h100 = book.hardware_cost(Hardware("cuda", "NVIDIA H100 80GB HBM3", 1), 1800)
    assert (h100.runtime_usd, h100.priced) == (Decimal("1.495"), True)
    assert book.hardware_cost(Hardware("cuda", "NVIDIA L4", 1), 3600).runtime_usd == Decimal("0.56")
    for name in ("NVIDIA L40S", "NVIDIA GeForce RTX 4090"):
        cost = book.hardware_cost(Hardware("cuda", name, 1), 3600)
        assert not cost.priced and cost.runtime_usd == 0 and name in cost.basis
    cpu = book.hardware_cost(Hardware("cpu", "AMD EPYC 7B13", 4), 3600)
    assert cpu.runtime_usd == Decimal("0.1784") and "AMD EPYC 7B13" in cpu.basis  # 4 × $0.0446
    assert {"h100", "h200", "h800", "a100", "l4", "cpu"} <= set(book.devices)


def test_a_training_run_on_a_gpu_is_priced_at_the_gpus_rate_or_flagged(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA H100 80GB HBM3")
    book, gpu = PriceBook.load(), torch.device("cuda")
    assert run_cost(Settings(device="auto"), book, gpu, 3600).runtime_usd == Decimal("2.99")
    on_cpu_rate = run_cost(Settings(device="cpu"), book, gpu, 3600)
    assert not on_cpu_rate.priced and "KGFT_DEVICE=cpu is a cpu rate" in on_cpu_rate.basis
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda device=None: "NVIDIA RTX 6000 Ada")
    assert not run_cost(Settings(device="auto"), book, gpu, 3600).priced


def test_reserved_hardware_at_a_stated_utilisation_costs_more_per_busy_second():
    shared = PriceBook.load().compute_cost("h100", 3600)
    reserved = PriceBook.load(utilisation=Decimal("0.25")).compute_cost("h100", 3600)
    assert reserved.runtime_usd == 4 * shared.runtime_usd == Decimal("11.96")
    assert "÷ 25% utilisation" in reserved.basis


# --- 3. fixed monthly costs and the break-even --------------------------------------------------------
def test_break_even_with_fixed_costs_is_the_closed_form():
    # Overheads a month: KG 1200/12 + 100 = 200; FT 6000/12 + 1500 = 2000.
    # v = (2000 − 200) / (0.0021 − 0.0005) = 1800 / 0.0016 = 1,125,000 queries a month.
    kg = RouteCosts("kg", Decimal("1200"), Decimal("0.0021"), 0, Decimal("100"))
    ft = RouteCosts("ft", Decimal("6000"), Decimal("0.0005"), 0, Decimal("1500"))
    volume = break_even_queries_per_month(kg, ft, 12)
    assert volume == Decimal(1_125_000)
    a, b = all_in_per_query(kg, 1_125_000, 12), all_in_per_query(ft, 1_125_000, 12)
    assert abs(a - b) < Decimal("1e-20")
    # At 10k a month: 0.0021 + 1200/120000 + 100/10000 = 0.0221
    assert all_in_per_query(kg, 10_000, 12) == Decimal("0.0221")
    # One route cheaper at every volume: no "cheaper above 0 queries/month".
    cheap = RouteCosts("kg", Decimal("1"), Decimal("0.0021"), 0)
    assert (
        break_even_queries_per_month(cheap, RouteCosts("ft", Decimal("1.01"), Decimal("0.0005"), 0), 12)
        is None
    )


def test_fixed_costs_from_settings_enter_the_summary_and_its_break_even():
    rows = _rows("kg", []) + _rows("ft", [])
    for index, row in enumerate(rows):
        if row.route == "ft":
            rows[index] = ResultRow(**(row.__dict__ | {"runtime_cost_usd": Decimal("0.0002")}))
    fixed = {"kg": {"graph_db_host": Decimal("40")}, "ft": {"serving_gpu": Decimal("440")}}
    summary = build_summary(rows, [], dataset="d", monthly_queries=1000, months=12, fixed_monthly=fixed)
    assert summary["routes"]["ft"]["fixed_monthly_usd"] == "440"
    assert summary["routes"]["kg"]["all_in_cost_per_query_usd"] == "0.041"  # 0.001 + 40/1000
    # (440 − 40) / (0.001 − 0.0002) = 500,000
    assert summary["comparison"]["break_even_queries_per_month"] == "500000"
    assert "the KG route is cheaper above" not in summary["verdict"]
    assert "the FT route is cheaper above 500k queries/month" in summary["verdict"]


# --- 4. ledger kinds with validation ------------------------------------------------------------------
def test_ledger_kinds_are_checked_with_their_arithmetic(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    with pytest.raises(LedgerError, match="unknown ledger kind 'lunch'"):
        ledger.append(LedgerEntry("ft", "lunch", "", Decimal(1), "", True))
    with pytest.raises(LedgerError, match=r"zero share needs meta\.reason"):
        check_entry(LedgerEntry("ft", "base_model_share", "", Decimal(0), "", True, meta={"fraction": "0"}))
    with pytest.raises(LedgerError, match="purchase_usd × months"):
        meta = {"purchase_usd": "48000", "months": "6", "life_months": "48"}
        check_entry(LedgerEntry("ft", "hardware_depreciation", "", Decimal(5000), "", True, meta=meta))
    check_entry(LedgerEntry("ft", "hardware_depreciation", "", Decimal(6000), "", True, meta=meta))

    share = manual_entry(
        "ft",
        "base_model_share",
        share=BaseModelShare(Decimal("0.001"), Decimal("5576000"), "arXiv 2412.19437"),
    )
    assert share.cost_usd == Decimal("5576.000") and share.meta["fraction"] == "0.001"
    ledger.append(share)
    zero = manual_entry("ft", "base_model_share", share=BaseModelShare(Decimal(0), reason="open weights"))
    ledger.append(zero)
    for kind in ("kg_ingest", "dataset_curation", "distillation", "training_run", "expert_hours", "infra"):
        check_entry(LedgerEntry("kg", kind, "", Decimal(1), "", True))


def test_ledger_add_refuses_an_unknown_route_or_kind_in_one_line(tmp_path):
    env = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(tmp_path),
        "HOME": str(tmp_path),
    }
    for args, message in (
        (("--route", "FT", "--kind", "expert_hours", "--usd", "5"), "unknown route 'FT'"),
        (("--route", "ft", "--kind", "lunch", "--usd", "5"), "unknown ledger kind 'lunch'"),
    ):
        done = subprocess.run(
            [KGFT, "ledger", "add", *args], env=env, capture_output=True, text=True, check=False
        )
        assert done.returncode == 1 and message in done.stderr and len(done.stderr.splitlines()) == 1
    assert not (tmp_path / "ledger.jsonl").exists()


# --- 5. worked scenarios -------------------------------------------------------------------------------
def test_s1_rebuilds_its_headline_from_16_h100_for_26_minutes():
    book = PriceBook.load()
    s1 = load_scenario("s1", book)
    assert s1.headline_usd == 16 * Decimal(26) / 60 * book.devices["h100"].usd_per_hour
    assert s1.headline_usd.quantize(Decimal("0.01")) == Decimal("20.73")
    assert s1.total_usd > 10_000 * s1.headline_usd
    text = render_scenario(s1)
    assert "16 × H100 × 26 min × $2.99/h" in text and "the headline's share of the total" in text
    assert all(line.source and line.as_of for line in s1.lines)


def test_deepseek_v3_rebuilds_5_576m_from_2_788m_h800_hours():
    v3 = load_scenario("deepseek-v3", PriceBook.load())
    assert v3.headline_usd == Decimal("5576000")
    assert {line.kind for line in v3.lines} >= {"training_run", "hardware_depreciation", "base_model_share"}
    assert v3.headline_share() == v3.headline_usd / v3.total_usd < Decimal("0.05")


def test_a_users_plan_is_costed_and_shown_beside_measured_routes(tmp_path):
    plan = tmp_path / "plan.toml"
    plan.write_text(
        """
name = "ours"
title = "our legal assistant"
[[line]]
kind = "expert_hours"
what = "lawyers check 2,000 answers"
hours = "100"
rate_usd = "120"
evidence = "assumption"
source = "our estimate"
[serving]
runtime_per_query_usd = "0.002"
[[serving.fixed]]
kind = "serving"
what = "one L4"
gpus = 1
hours = "730"
device = "l4"
evidence = "assumption"
source = "prices.toml"
""",
        "utf-8",
    )
    scenario = load_scenario(str(plan), PriceBook.load())
    # 0.002 + 12000 / (50000 × 12) + 408.8 / 50000 = 0.002 + 0.02 + 0.008176
    assert scenario.all_in_per_query(50_000, 12) == Decimal("0.030176")
    summary = build_summary(
        _rows("kg", []),
        [],
        dataset="d",
        monthly_queries=50_000,
        months=12,
        scenarios=[scenario_summary(scenario, monthly_queries=50_000, months=12)],
    )
    assert summary["scenarios"][0]["all_in_cost_per_query_usd"] == "0.030176"
    assert "## Scenario: our legal assistant" in render_markdown(summary)
    with pytest.raises(Exception, match="unknown kind 'lunch'"):
        plan.write_text('[[line]]\nkind = "lunch"\nusd = "1"\nevidence = "assumption"\nsource = "x"\n')
        load_scenario(str(plan), PriceBook.load())


def test_cost_scenario_prints_the_headline_and_its_share():
    done = subprocess.run([KGFT, "cost", "scenario", "s1"], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "$20.73  headline, rebuilt" in done.stdout and "share of the total" in done.stdout


# --- 6. error rows --------------------------------------------------------------------------------------
def test_error_rows_are_unpriced_and_the_summary_says_how_many():
    rows = _rows("kg", [])
    rows[0] = ResultRow(
        **(rows[0].__dict__ | {"priced": False, "error": "RuntimeError: x", "correct": False})
    )
    stats = build_summary(rows, [], dataset="d", monthly_queries=1000, months=1)
    assert (stats["routes"]["kg"]["unpriced_queries"], stats["routes"]["kg"]["costs_complete"]) == (1, False)
    assert any("1 of 4 rows are unpriced (1 of them errors)" in note for note in stats["notes"])
    assert "the KG route has 1 unpriced query" in stats["verdict"]


# --- serve books builds too ----------------------------------------------------------------------------
def test_the_gateway_books_a_routes_build_when_it_is_built(tmp_path, monkeypatch):
    entry = LedgerEntry(
        "ft", "training_run", "card", Decimal("2"), "b", True, config="ft-data x", id="card-x"
    )
    route = BuiltRoute([Build("model", "ft-data x", (entry,))])
    monkeypatch.setattr(route_table, "build_route", lambda name, settings, prices: route)
    settings = Settings(home=tmp_path)
    for _ in range(2):  # a restart books nothing twice
        route_table.RouteTable(["hybrid"]).build(settings, PriceBook.load())
    assert [e.id for e in Ledger(settings.ledger_path).entries()] == ["card-x"]


def test_a_fresh_home_evaluating_kg_and_ft_books_the_ft_card_and_reports_complete_costs(tmp_path):
    import os

    env = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(tmp_path / "home"),
        "HOME": str(tmp_path),
        "KGFT_THREADS": "1",
        "KGFT_KG_READER": "lexical",  # the graph's facts pick the option: no second model to load
        "KGFT_MODEL_CACHE": os.environ["KGFT_MODEL_CACHE"],
    }

    def kgft(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [KGFT, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )
        assert done.returncode == 0, done.stderr
        return done

    kgft("ingest", "legal")
    out = tmp_path / "run"
    run = kgft(
        "eval", "run", "--dataset", "kg-legal:2", "--limit", "2", "--routes", "kg,ft", "--out", str(out)
    )
    assert "ft: build cost booked" in run.stderr
    kgft("eval", "report", str(out))

    routes = json.loads((out / "summary.json").read_text("utf-8"))["routes"]
    card = _card()
    assert routes["ft"]["build_cost_usd"] == format(Decimal(card["cost_usd"]).quantize(Decimal("1e-10")), "f")
    assert [entry["kind"] for entry in routes["ft"]["build_entries"]] == ["training_run"]
    assert [entry["kind"] for entry in routes["kg"]["build_entries"]] == ["kg_ingest"]
    assert routes["kg"]["costs_complete"] and routes["ft"]["costs_complete"]
    assert routes["kg"]["reader"] == "lexical" and routes["ft"]["model"]


def test_the_embedding_index_is_booked_once_as_part_of_the_graphs_build(tmp_path):
    from kg_route.factory import build_lexical_route
    from kg_route.ingest.medical import ingest_medical
    from kg_route.store import open_store
    from tests.test_kg_route import write_triples

    settings = Settings(home=tmp_path, threads=1, graph=f"ladybug:{tmp_path / 'graph'}", kg_embeddings=True)
    graph = open_store(settings.graph_url)
    ingest_medical(
        graph, write_triples(tmp_path / "triples.tsv.gz"), settings, PriceBook.load(), progress=False
    )
    graph.close()
    for _ in range(2):  # the second build reads the cached vectors: nothing more to pay
        route = build_lexical_route(settings, PriceBook.load())
        route.retriever.store.close()
    entries = [e for e in Ledger(settings.ledger_path).entries() if e.kind == "embedding_index"]
    (entry,) = entries
    (graph_build,) = route.builds()
    assert entry.config == graph_build.config and entry.priced and entry.seconds > 0
    assert entry.meta["names"] == 3  # the three diseases that carry facts


def test_a_gguf_conversion_is_timed_and_booked_once_by_the_training_that_uses_it(tmp_path):
    from ft_route.train.ledger_entry import record_conversion
    from ft_route.train.setup import Base
    from kgft.backends.gguf_convert import CONVERSION_FILE, tokenizer_dir
    from kgft.backends.gguf_files import smollm2_path

    settings = Settings(home=tmp_path / "home", threads=1, model_cache=tmp_path / "models")
    folder = tokenizer_dir(smollm2_path(), settings)  # the quick conversion; the full one writes the same
    seconds = json.loads((folder / CONVERSION_FILE).read_text("utf-8"))["seconds"]
    base = Base(folder, "SmolLM2-135M-Instruct")
    first = record_conversion(settings, PriceBook.load(), base)
    assert record_conversion(settings, PriceBook.load(), base) is None  # a second run books nothing
    assert first is not None and (first.kind, first.route, first.seconds) == (
        "model_conversion",
        "ft",
        seconds,
    )
    assert seconds > 0 and first.priced and Ledger(settings.ledger_path).entries() == [first]


# --- issue 15: the cost of keeping each route current ---------------------------------------------------
def test_a_stated_update_rate_prices_keeping_current_from_the_updates_the_ledger_measured():
    model = {"what": "SmolLM2 + lora", "config": model_config("ab" * 32)}
    rows = _rows("kg", [{"what": "graph", "config": GRAPH}]) + _rows("ft", [model])
    kg = dict(route="kg", description="u", basis="b", priced=True, domain="legal", config=GRAPH)
    ft = dict(route="ft", kind="training_run", description="t", basis="b", priced=True)
    ft["config"] = model["config"]
    ledger = [
        LedgerEntry(kind="kg_ingest", cost_usd=Decimal("3"), meta={"completed": True}, **kg),
        LedgerEntry(kind="kg_update", cost_usd=Decimal("0.02"), meta={"completed": True}, **kg),
        LedgerEntry(kind="kg_update", cost_usd=Decimal("0.04"), meta={"completed": True}, **kg),
        LedgerEntry(kind="kg_update", cost_usd=Decimal("9"), meta={"completed": False}, **kg),  # refused
        LedgerEntry(cost_usd=Decimal("7"), meta={"status": "completed"}, **ft),
        LedgerEntry(cost_usd=Decimal("0.5"), meta={"status": "completed", "refresh_of": "runs/ft"}, **ft),
    ]

    stated = build_summary(
        rows, ledger, dataset="d", monthly_queries=1000, months=10, updates_per_month=Decimal(4)
    )
    silent = build_summary(rows, ledger, dataset="d", monthly_queries=1000, months=10)

    # KG: 4 × mean(0.02, 0.04) = 0.12 a month; FT: 4 × 0.5 = 2 a month.
    assert stated["routes"]["kg"]["fixed_monthly_usd"] == "0.12"
    assert stated["routes"]["ft"]["fixed_monthly_usd"] == "2"
    [item] = stated["routes"]["ft"]["fixed_monthly_items"]
    assert item.startswith("keeping current (4 updates × $0.5")
    assert silent["routes"]["kg"]["fixed_monthly_usd"] == "0"
