"""The FT route's acceptance path as a user runs it: data → train → ask, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from tests.cli_env import shared_model_cache
from tests.tiny_llama import build_tiny_llama

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
KGFT = str(Path(sys.executable).parent / "kgft")

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"{SHARED_DATA} is absent")


def kgft(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(home),
        "KGFT_THREADS": "1",
        **env,
    }
    return subprocess.run([KGFT, *args], capture_output=True, text=True, env=environment, timeout=300)


def test_data_train_ask_and_every_step_is_ledgered(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    built = kgft("ft", "data", "--domain", "legal", "--n", "40", "--out", str(data), home=tmp_path)
    assert built.returncode == 0, built.stderr
    assert len((data / "train.jsonl").read_text("utf-8").splitlines()) == 40

    base = build_tiny_llama(tmp_path / "tiny")
    trained = kgft(
        "ft", "train", "--base", str(base), "--data", str(data), "--out", str(run), "--steps", "3",
        "--max-seq-len", "256", "--batch-size", "2", "--grad-accum", "2", "--packing", home=tmp_path,
    )  # fmt: skip
    assert trained.returncode == 0, trained.stderr
    shipped = load_file(run / "adapter" / "adapter_model.safetensors")
    assert {tensor.dtype for tensor in shipped.values()} == {torch.float16}  # served adapters are halved
    card = json.loads((run / "training_card.json").read_text("utf-8"))
    assert (
        card["hyperparameters"] | {"batch_size": 2, "grad_accum": 2, "packing": True}
        == card["hyperparameters"]
    )
    assert (
        card["steps"] == 3
        and card["data_hash"] == json.loads((data / "dataset_card.json").read_text())["data_hash"]
    )

    asked = kgft(
        "ask",
        "--route",
        "ft",
        "--json",
        "民法典第一千零八十四条规定了什么？",
        home=tmp_path,
        KGFT_FT_MODEL=str(run),
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["route"] == "ft"
    assert answer["usage"]["prompt_tokens"] > 0 and answer["cost"]["priced"]

    kinds = [json.loads(line)["kind"] for line in (tmp_path / "ledger.jsonl").read_text("utf-8").splitlines()]
    assert kinds == ["dataset_curation", "training_run"]


def test_eval_file_as_training_data_is_refused(tmp_path):
    lexeval = SHARED_DATA / "legal/eval/lexeval/1_2.json"
    result = kgft(
        "ft", "data", "--n", "10", "--out", str(tmp_path / "d"), "--source", str(lexeval), home=tmp_path
    )
    assert result.returncode == 1
    assert "is an evaluation set" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_base_model_is_one_line(tmp_path):
    data = tmp_path / "data"
    assert kgft("ft", "data", "--n", "10", "--out", str(data), home=tmp_path).returncode == 0
    missing = str(tmp_path / "nope")
    result = kgft(
        "ft", "train", "--base", missing, "--data", str(data), "--out", str(tmp_path / "r"), home=tmp_path
    )
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_the_shipped_adapter_serves_on_a_fresh_home(tmp_path):
    """No KGFT_FT_MODEL: the route serves kgft/adapters/smollm2-legal on SmolLM2 converted afresh."""
    card = json.loads(
        (Path(__file__).resolve().parents[1] / "kgft/adapters/smollm2-legal/training_card.json").read_text()
    )
    asked = kgft(
        "ask",
        "--route",
        "ft",
        "--json",
        "《刑事诉讼法》第十二条是怎么规定的？",
        home=tmp_path,
        KGFT_MAX_TOKENS="8",
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["diagnostics"]["data_hash"] == card["data_hash"]
    assert answer["usage"]["completion_tokens"] > 0
