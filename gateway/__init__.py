"""Gateway: the OpenAI-compatible chat API in front of both routes (not built yet)."""
