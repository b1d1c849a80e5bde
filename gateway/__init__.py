"""Gateway: the OpenAI-compatible chat API in front of the routes (`kgft serve`, `gateway.app.create_app`)."""
