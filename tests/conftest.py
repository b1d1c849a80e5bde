"""Fixtures every test module can use without importing them."""

import os

import pytest

pytest_plugins = ["tests.graph_servers"]


@pytest.fixture(autouse=True)
def _no_outside_settings(monkeypatch, tmp_path_factory):
    """Tests see only the settings they set: none from the caller's KGFT_* variables or ./kgft.toml."""
    for name in list(os.environ):
        if name.startswith("KGFT_") or name == "OPENAI_API_KEY":
            monkeypatch.delenv(name)
    monkeypatch.setenv("KGFT_CONFIG", str(tmp_path_factory.getbasetemp() / "no-kgft.toml"))
    # One SmolLM2 conversion (~20 s) for the whole run instead of one per test home.
    monkeypatch.setenv("KGFT_MODEL_CACHE", str(tmp_path_factory.getbasetemp() / "models"))
