from decimal import Decimal

import pytest

from eval.costs import (
    CostInputError,
    RouteCosts,
    all_in_per_query,
    break_even_queries_per_month,
    build_costs,
    cost_curve,
    manual_entry,
    per_correct,
)
from kgft.errors import KgftError
from kgft.ledger import Ledger, LedgerEntry

# KG: cheap to build, dearer per query. FT: a training run up front, cheap to serve.
KG = RouteCosts("kg", Decimal("1200"), Decimal("0.0021"), 0)
FT = RouteCosts("ft", Decimal("6000"), Decimal("0.0005"), 0)


def test_build_costs_sum_priced_entries_and_count_unpriced(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    ledger.append(LedgerEntry("kg", "kg_ingest", "CMeKG", Decimal("120.50"), "…", True))
    ledger.append(LedgerEntry("kg", "expert_hours", "review", Decimal("3.25"), "…", True))
    ledger.append(LedgerEntry("kg", "kg_ingest", "laptop run", Decimal(0), "unpriced: no rate", False))
    ledger.append(LedgerEntry("ft", "training_run", "LoRA", Decimal("2.99"), "…", True))
    entries = ledger.entries()
    assert build_costs(entries, "kg") == (Decimal("123.75"), 1)
    assert build_costs(entries, "ft") == (Decimal("2.99"), 0)
    assert build_costs(entries, "llm") == (Decimal(0), 0)


def test_all_in_per_query_amortizes_the_build():
    # 0.0021 + 1200 / (10,000 × 12) = 0.0021 + 0.01
    assert all_in_per_query(KG, 10_000, 12) == Decimal("0.0121")
    with pytest.raises(ValueError):
        all_in_per_query(KG, 0, 12)


def test_per_correct():
    assert per_correct(Decimal("0.012"), 0.75) == Decimal("0.016")
    assert per_correct(Decimal("0.012"), 0.0) is None
    with pytest.raises(ValueError):
        per_correct(Decimal("0.012"), 1.5)


def test_break_even_where_the_lines_cross():
    # (6000 − 1200) / ((0.0021 − 0.0005) × 12) = 4800 / 0.0192 = 250,000 queries a month.
    volume = break_even_queries_per_month(KG, FT, 12)
    assert volume == Decimal(250_000)
    assert break_even_queries_per_month(FT, KG, 12) == volume
    below, at, above = cost_curve(KG, [100_000, 250_000, 1_000_000], 12)
    ft_below, ft_at, ft_above = cost_curve(FT, [100_000, 250_000, 1_000_000], 12)
    assert at == ft_at == Decimal("0.0025")
    assert below == Decimal("0.0031") < ft_below == Decimal("0.0055")  # smaller build wins below
    assert above == Decimal("0.0022") > ft_above == Decimal("0.0010")  # smaller runtime wins above


@pytest.mark.parametrize(
    "other",
    [
        RouteCosts("ft", Decimal("6000"), Decimal("0.0030"), 0),  # dearer to build and to run
        RouteCosts("ft", Decimal("6000"), Decimal("0.0021"), 0),  # same runtime: parallel lines
        RouteCosts("ft", Decimal("1200"), Decimal("0.0005"), 0),  # same build, cheaper to run
        KG,
    ],
)
def test_no_break_even_when_one_route_is_never_dearer(other):
    assert break_even_queries_per_month(KG, other, 12) is None


def test_manual_entry_from_hours_and_rate():
    entry = manual_entry("ft", "expert_hours", hours=40, rate_usd=Decimal("80"), description="answer review")
    assert (entry.cost_usd, entry.basis, entry.priced) == (Decimal("3200"), "40 h × $80/h", True)
    half = manual_entry("kg", "expert_hours", hours=1.5, rate_usd=Decimal("62.50"))
    assert (half.cost_usd, half.basis) == (Decimal("93.75"), "1.5 h × $62.5/h")


def test_manual_entry_flat_amount():
    entry = manual_entry("kg", "licence", usd=Decimal("120"), description="CMeKG licence")
    assert (entry.route, entry.kind, entry.description) == ("kg", "licence", "CMeKG licence")
    assert (entry.cost_usd, entry.basis) == (Decimal("120"), "$120 flat")


@pytest.mark.parametrize(
    "figures",
    [
        {"hours": -1, "rate_usd": Decimal("80")},
        {"hours": 40},
        {"rate_usd": Decimal("80")},
        {},
        {"usd": Decimal("-5")},
        {"usd": Decimal("5"), "hours": 2, "rate_usd": Decimal("80")},
        {"hours": float("nan"), "rate_usd": Decimal("80")},
    ],
)
def test_manual_entry_refuses_bad_figures(figures):
    with pytest.raises(CostInputError) as raised:
        manual_entry("ft", "expert_hours", **figures)
    assert isinstance(raised.value, KgftError) and isinstance(raised.value, ValueError)
