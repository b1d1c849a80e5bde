from decimal import Decimal

from kgft.ledger import Ledger, LedgerEntry
from kgft.pricing import PriceBook


def test_entries_round_trip_with_exact_money(tmp_path):
    ledger = Ledger(tmp_path / "ledger.jsonl")
    assert ledger.entries() == []
    cost = PriceBook.load().compute_cost("h100", seconds=3600)
    ledger.append(
        LedgerEntry.from_cost("ft", "training_run", "LoRA r=16, failed at step 40", cost, seconds=3600)
    )
    ledger.append(LedgerEntry("ft", "expert_hours", "40 h review", Decimal("3200"), "40 h × $80/h", True))
    first, second = ledger.entries()
    assert first.cost_usd == Decimal("2.99")
    assert first.basis == "3600 s × $2.99/h (H100)"
    assert second.cost_usd + first.cost_usd == Decimal("3202.99")
    assert len((tmp_path / "ledger.jsonl").read_text("utf-8").splitlines()) == 2
