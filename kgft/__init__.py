"""kgft: knowledge graph vs fine-tuning, measured."""
