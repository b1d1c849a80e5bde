"""Eval: A/B runs on real benchmarks, the all-in cost ledger, paired statistics and reports."""
