"""Eval: A/B runs, all-in cost ledger, paired statistics and reports (not built yet)."""
