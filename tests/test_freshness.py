"""Freshness items from the real statute versions, and the report's figures on picks worked by hand."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from eval.freshness import OPTION_CHARS, freshness_items
from eval.freshness_report import Phase, Update, route_freshness, write_report
from kg_route.ingest.legal import plan_legal
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.sources.statutes import statute_files
from kgft_cli.freshness import run_freshness, split_statutes


def _nodes():
    split = split_statutes(statute_files(None))
    laws = split.old_laws + split.new_laws
    articles = [row for law in laws for row in split.articles[law["law_id"]]]
    return plan_legal(
        ((f"l{i}", law) for i, law in enumerate(laws)), ((f"a{i}", a) for i, a in enumerate(articles))
    ).nodes


NODES = _nodes()


def test_changed_items_hold_the_new_text_as_gold_and_the_superseded_text_as_the_stale_distractor():
    items = freshness_items(NODES, changed=30, unchanged=10, seed=1)
    texts = {node.id: "".join(node.text.split())[:OPTION_CHARS] for node in NODES}

    assert [item.changed for item in items] == [True] * 30 + [False] * 10
    for item in items:
        options = item.question.options or {}
        assert len(options) == 4 and len(set(options.values())) == 4
        assert options[item.gold] == texts[item.article_id]
        assert item.question.text.endswith("规定的内容是：") and "年" in item.question.text
        if item.changed:
            assert (
                item.stale is not None
                and options[item.stale] == texts[item.previous_id] != options[item.gold]
            )
        else:
            assert item.stale is None and texts[item.previous_id] == options[item.gold]
    # The stem names the day the new version took effect: 商标法 2026 from 2027-01-01.
    trademark = [item for item in items if item.law_name == "中华人民共和国商标法"]
    assert all(item.question.text.startswith("2027年1月1日起施行的") for item in trademark)
    assert freshness_items(NODES, changed=30, unchanged=10, seed=1) == items  # seeded
    assert freshness_items(NODES, changed=30, unchanged=10, seed=2) != items


def test_the_report_counts_right_and_stale_picks_and_the_update_cost(tmp_path):
    items = freshness_items(NODES, changed=4, unchanged=2, seed=0)
    before = Phase([items[0].stale, items[1].stale, items[2].gold, None, items[4].gold, "Z"])
    after = Phase([item.gold for item in items[:5]] + [items[5].gold])
    update = Update(2.5, Decimal("0.0001"), True, "11 amendments")

    figures = route_freshness("kg", items, before, after, update)
    report = write_report(tmp_path, items, [figures])

    assert (figures.changed_before.estimate, figures.changed_after.estimate) == (0.25, 1.0)
    assert figures.changed_gain.estimate == 0.75
    assert (figures.stale_before, figures.stale_after) == (0.5, 0.0)
    assert figures.unchanged_before is not None and figures.unchanged_before.estimate == 0.5
    assert "| kg | 25% [" in report.read_text("utf-8") and "| 50% → 0% |" in report.read_text("utf-8")
    assert json.loads((tmp_path / "report.json").read_text("utf-8"))["changed"] == 4


@pytest.mark.slow
def test_the_freshness_run_builds_updates_and_reports_both_routes_and_resumes(tmp_path):
    settings = Settings(home=tmp_path / "home", threads=2, device="cpu")
    out = tmp_path / "fresh"

    first = run_freshness(out, settings, PriceBook.load(), changed=3, unchanged=1, seed=0).read_text("utf-8")
    again = run_freshness(out, settings, PriceBook.load(), changed=3, unchanged=1, seed=0).read_text("utf-8")

    figures = json.loads((out / "report.json").read_text("utf-8"))
    kg, ft = figures["routes"]
    assert (kg["route"], ft["route"]) == ("kg-lexical", "ft")
    assert float(kg["changed_after"]["estimate"]) >= float(kg["changed_before"]["estimate"])
    kinds = [entry.kind for entry in Ledger(settings.ledger_path).entries()]
    assert kinds.count("kg_update") == 11 and kinds.count("training_run") == 2
    assert again == first  # every phase was saved: the re-run books and trains nothing more
    assert [entry.kind for entry in Ledger(settings.ledger_path).entries()] == kinds
