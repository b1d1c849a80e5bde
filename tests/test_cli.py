"""The `kgft` command as a user runs it: real process, real exit codes, no tracebacks."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.cli_env import shared_model_cache

KGFT = str(Path(sys.executable).parent / "kgft")


def run(*args: str, env_extra: dict[str, str] | None = None, tmp_home: Path) -> subprocess.CompletedProcess:
    # One llama.cpp thread: its spinning workers slow down badly when another process shares the cores.
    env = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(tmp_home),
        "HOME": str(tmp_home),
    }
    env["KGFT_THREADS"] = "1"
    env |= env_extra or {}
    return subprocess.run([KGFT, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


def test_help_lists_the_llm_command(tmp_path):
    result = run("--help", tmp_home=tmp_path)
    assert result.returncode == 0
    assert "llm" in result.stdout


def test_llm_json_prints_one_answer_with_tokens_and_cost(tmp_path):
    result = run("llm", "--backend", "gguf:smollm2", "--json", "What is 2+2?", tmp_home=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    answer = json.loads(lines[0])
    assert answer["text"].strip()
    assert answer["usage"]["prompt_tokens"] > 0
    assert answer["usage"]["completion_tokens"] > 0
    assert answer["cost"]["priced"] is True
    assert " s × $" in answer["cost"]["basis"]  # names the seconds and the rate
    assert answer["route"] == "llm"


def test_llm_plain_output_streams_text_and_a_summary(tmp_path):
    result = run("llm", "--max-tokens", "8", "Say hello.", tmp_home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "tokens" in result.stderr and "cost" in result.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("llm", "--backend", "nope:x", "hi"), {}, "unknown backend 'nope'"),
        (("llm", "--backend", "gguf:/no/such/model.gguf", "hi"), {}, "GGUF model file not found"),
        (("llm", "--backend", "gguf:smollm2", "   "), {}, "prompt is empty"),
        (("llm", "--backend", "openai:m?base_url=http://127.0.0.1:9/v1", "hi"), {}, "127.0.0.1:9"),
        (("llm", "hi"), {"KGFT_THREADS": "many"}, "invalid threads"),
        (("llm", "hi"), {"KGFT_PRICES": "/no/prices.toml"}, "does not exist"),
        (("ingest", "legal", "--update", "/no/such/laws"), {}, "/no/such/laws does not exist"),
        (("ingest", "legal", "--update", "/a", "--source", "/b"), {}, "not both"),
        (("eval", "freshness", "--out", "x", "--domain", "medical"), {}, "only legal has"),
    ],
)
def test_bad_input_gives_one_line_and_nonzero_exit(tmp_path, args, env, message):
    result = run(*args, env_extra=env, tmp_home=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
