"""A run keeps each route's configuration: resuming with another one is refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest

from eval.route_config import configuration_key, route_configuration
from eval.run_dir import open_run, read_run
from eval.summary import build_summary
from kg_route.route import KGRoute
from kgft.backends import create_backend
from kgft.errors import KgftError
from kgft.option_scoring import OPTION_PROMPT_VERSION
from kgft.plain_route import PlainRoute
from kgft.pricing import PriceBook
from kgft.projects import graph_config
from kgft.results_store import ResultRow
from kgft.settings import Settings
from tests.cli_env import shared_model_cache

KGFT = str(Path(sys.executable).parent / "kgft")
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing answers, so no answer is ever paid


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(home=tmp_path)


def _kg_route(settings: Settings, reader: str) -> KGRoute:
    """A KG route over a store at a known URL; configuration reads no graph and loads no model."""
    retriever = SimpleNamespace(store=SimpleNamespace(url="ladybug:/data/graph"))
    return KGRoute(retriever, settings, PriceBook.load(settings.prices), reader=reader)  # type: ignore[arg-type]


def test_a_kg_route_configuration_names_backend_reader_graph_and_prompt(settings: Settings) -> None:
    route = _kg_route(settings, "lexical")
    configuration = route_configuration(route, settings)

    assert configuration == {
        "backend": settings.kg_backend,
        "reader": "lexical",
        "mcq_mode": settings.mcq_mode,
        "builds": graph_config("ladybug:/data/graph"),
        "option_prompt": OPTION_PROMPT_VERSION,
    }
    assert "backend" not in route.__dict__  # reading the spec did not build (load) the model
    other_reader = route_configuration(_kg_route(settings, "llm"), settings)
    assert configuration_key(other_reader) != configuration_key(configuration)


def test_the_plain_route_is_keyed_by_its_backend_spec(settings: Settings) -> None:
    prices = PriceBook.load(settings.prices)
    route = PlainRoute(create_backend(f"openai:model-a?base_url={NOWHERE}", settings), prices, max_tokens=8)

    configuration = route_configuration(route, settings)
    assert configuration["backend"] == f"openai:model-a?base_url={NOWHERE}"
    assert (configuration["reader"], configuration["builds"]) == ("llm", "")


def test_open_run_refuses_a_changed_configuration_and_keeps_new_routes(tmp_path: Path) -> None:
    first = {"backend": "gguf:smollm2", "reader": "llm", "builds": "graph ladybug:/g"}
    info = open_run(tmp_path, "lexeval-1_1", {"kg": first}, False, None)

    with pytest.raises(KgftError) as refused:
        open_run(tmp_path, "lexeval-1_1", {"kg": first | {"backend": "openai:deepseek-chat"}}, False, None)
    message = str(refused.value)
    assert "\n" not in message and "route 'kg'" in message
    assert "backend gguf:smollm2 → openai:deepseek-chat" in message

    resumed = open_run(tmp_path, "lexeval-1_1", {"kg": first, "ft": {"backend": "hf:x"}}, False, None)
    assert resumed.run_id == info.run_id and resumed.routes == ["kg", "ft"]
    assert read_run(tmp_path).configs == {"kg": first, "ft": {"backend": "hf:x"}}


def test_a_run_file_from_before_configurations_resumes_and_records_them(tmp_path: Path) -> None:
    old = {"run_id": "old-1", "dataset": "d", "routes": ["kg"], "kg_derived": False, "limit": None}
    (tmp_path / "run.json").write_text(json.dumps(old | {"created_at": "2026-01-01T00:00:00+00:00"}))

    info = open_run(tmp_path, "d", {"kg": {"backend": "gguf:smollm2"}}, False, None)
    assert info.run_id == "old-1" and read_run(tmp_path).configs == {"kg": {"backend": "gguf:smollm2"}}


def _eval_run(home: Path, out: Path, questions: Path, backend: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(home),
        "HOME": str(home),
        "KGFT_LLM_BACKEND": backend,
        "KGFT_TIMEOUT_S": "2",
    }
    args = [KGFT, "eval", "run", "--dataset", str(questions), "--routes", "llm", "--out", str(out)]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=120, check=False)


def test_kgft_eval_run_refuses_to_resume_with_another_backend(tmp_path: Path) -> None:
    questions = tmp_path / "open.jsonl"
    questions.write_text(json.dumps({"id": "q1", "question": "什么是犯罪中止？", "gold": "自动放弃"}) + "\n")
    home, out = tmp_path / "home", tmp_path / "run"
    first = _eval_run(home, out, questions, f"openai:model-a?base_url={NOWHERE}")
    assert first.returncode == 0, first.stderr  # the one answer is an error row: nothing listens there

    changed = _eval_run(home, out, questions, f"openai:model-b?base_url={NOWHERE}")
    assert changed.returncode != 0
    lines = changed.stderr.strip().splitlines()
    assert len(lines) == 1 and "route 'llm' answered this run with another configuration" in lines[0]
    assert "model-a" in lines[0] and "model-b" in lines[0]

    same = _eval_run(home, out, questions, f"openai:model-a?base_url={NOWHERE}")
    assert same.returncode == 0, same.stderr
    assert read_run(out).configs["llm"]["backend"] == f"openai:model-a?base_url={NOWHERE}"


def test_a_report_notes_rows_of_two_configurations() -> None:
    rows = [
        ResultRow(
            "r",
            f"q{i}",
            "kg",
            "问",
            "A",
            Decimal(0),
            gold="A",
            choice="A",
            correct=True,
            meta={"config": key},
        )
        for i, key in enumerate(["aaa", "aaa", "bbb"])
    ]
    summary = build_summary(rows, [], dataset="d", monthly_queries=1000, months=12)

    assert summary["routes"]["kg"]["configs"] == ["aaa", "bbb"]
    assert any("2 configurations (aaa, bbb)" in note for note in summary["notes"])
