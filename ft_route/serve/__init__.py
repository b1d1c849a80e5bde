"""Serving the fine-tuned model as the `ft` route: loading a training output folder, budget forcing."""
