"""FT route: s1-style domain dataset, LoRA/SFT training with a cost ledger, serving with budget forcing."""
