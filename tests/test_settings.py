from pathlib import Path

import pytest
from pydantic import ValidationError

from kgft.settings import Settings


def test_env_wins_over_toml_which_wins_over_defaults(tmp_path, monkeypatch):
    config = tmp_path / "kgft.toml"
    config.write_text('device = "h100"\nthreads = 3\nmax_tokens = 99\n', encoding="utf-8")
    monkeypatch.setenv("KGFT_CONFIG", str(config))
    monkeypatch.setenv("KGFT_THREADS", "5")
    monkeypatch.setenv("KGFT_HOME", str(tmp_path / "home"))
    settings = Settings()
    assert settings.device == "h100"
    assert settings.threads == 5
    assert settings.max_tokens == 99
    assert settings.cache_dir == Path(tmp_path / "home" / "cache")


def test_openai_key_falls_back_to_the_standard_variable(monkeypatch, tmp_path):
    monkeypatch.setenv("KGFT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.delenv("KGFT_OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings = Settings()
    assert settings.openai_api_key is not None
    assert settings.openai_api_key.get_secret_value() == "sk-test"
    assert "sk-test" not in repr(settings)


def test_bad_values_are_rejected(monkeypatch, tmp_path):
    monkeypatch.setenv("KGFT_CONFIG", str(tmp_path / "absent.toml"))
    monkeypatch.setenv("KGFT_THREADS", "0")
    with pytest.raises(ValidationError, match="threads"):
        Settings()
