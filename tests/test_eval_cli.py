"""`kgft eval` and `kgft ledger` as a user runs them: real processes, real routes, a real graph."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kgft.results_store import ResultStore
from tests.cli_env import shared_model_cache

KGFT = str(Path(sys.executable).parent / "kgft")
SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
needs_lexeval = pytest.mark.skipif(
    not (SHARED_DATA / "legal" / "eval" / "lexeval").is_dir(), reason=f"no LexEval under {SHARED_DATA}"
)


def _env(home: Path, **extra: str) -> dict[str, str]:
    # One llama.cpp thread: its spinning workers slow down badly when another process shares the cores.
    return {
        "PATH": str(Path(sys.executable).parent),
        **shared_model_cache(),
        "KGFT_HOME": str(home),
        "HOME": str(home),
        "KGFT_THREADS": "1",
    } | extra


def kgft(*args: str, home: Path, timeout: int = 300, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [KGFT, *args], capture_output=True, text=True, env=_env(home, **extra), timeout=timeout, check=False
    )


@pytest.fixture(scope="module")
def legal_home(tmp_path_factory) -> Path:
    """A KGFT_HOME with the statutes ingested, shared by this module's tests."""
    home = tmp_path_factory.mktemp("legal-home")
    result = kgft("ingest", "legal", home=home)
    assert result.returncode == 0, result.stderr
    return home


@needs_lexeval
def test_lexeval_run_and_report_write_the_summary_fields(legal_home, tmp_path):
    out = tmp_path / "lexeval"
    run = kgft(
        "eval",
        "run",
        "--dataset",
        "lexeval-1_2",
        "--data-dir",
        str(SHARED_DATA),
        "--routes",
        "kg-lexical",  # 200 items: the no-model floor keeps this test at seconds
        "--limit",
        "200",
        "--out",
        str(out),
        home=legal_home,
    )
    assert run.returncode == 0, run.stderr
    assert "200 new rows" in run.stderr

    report = kgft("eval", "report", str(out), home=legal_home)
    assert report.returncode == 0, report.stderr
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    kg = summary["routes"]["kg-lexical"]
    assert kg["n"] == 200
    assert 0.9 <= kg["accuracy"] <= 1.0  # the lexical reader finds the gold option in the cited article
    for field in ("cost_per_query_usd", "all_in_cost_per_query_usd", "latency_ms_p50"):
        assert field in kg
    assert (out / "report.html").stat().st_size > 10_000
    assert (out / "report.md").is_file()
    assert summary["verdict"] in report.stdout


@needs_lexeval
def test_two_routes_get_a_paired_comparison(legal_home, tmp_path):
    out = tmp_path / "ab"
    run = kgft(
        "eval",
        "run",
        "--dataset",
        "lexeval-1_2",
        "--data-dir",
        str(SHARED_DATA),
        "--routes",
        "kg,llm",
        "--limit",
        "12",
        "--out",
        str(out),
        home=legal_home,
    )
    assert run.returncode == 0, run.stderr
    assert kgft("eval", "report", str(out), home=legal_home).returncode == 0
    comparison = json.loads((out / "summary.json").read_text("utf-8"))["comparison"]
    low, high = comparison["ci95"]
    assert low <= comparison["accuracy_diff"] <= high
    assert 0.0 <= comparison["mcnemar_p"] <= 1.0


def test_a_killed_run_resumes_without_duplicates(tmp_path):
    questions = tmp_path / "open.jsonl"
    rows = [{"id": f"q{index}", "question": f"Name a colour, {index}.", "gold": "red"} for index in range(24)]
    questions.write_text("\n".join(json.dumps(row) for row in rows) + "\n", "utf-8")
    out, home = tmp_path / "run", tmp_path / "home"
    args = [
        KGFT,
        "eval",
        "run",
        "--dataset",
        str(questions),
        "--routes",
        "llm",
        "--batch-size",
        "1",
        "--out",
        str(out),
    ]
    env = _env(home, KGFT_MAX_TOKENS="24")
    store_url = f"sqlite:///{home / 'kgft.db'}"

    process = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    written = 0
    while written < 4 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.3)
        if (home / "kgft.db").exists() and (out / "run.json").exists():
            store = ResultStore(store_url)
            written = len(store.done_keys(json.loads((out / "run.json").read_text())["run_id"]))
            store.close()
    assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()}"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()

    again = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr
    run_id = json.loads((out / "run.json").read_text())["run_id"]
    store = ResultStore(store_url)
    keys = [(row.item_id, row.route) for row in store.rows(run_id)]
    store.close()
    assert len(keys) == 24 and len(set(keys)) == 24
    assert f"{24 - written}" in again.stderr or "already done" in again.stderr


def test_ledger_add_books_expert_hours(tmp_path):
    added = kgft(
        "ledger",
        "add",
        "--route",
        "ft",
        "--kind",
        "expert_hours",
        "--hours",
        "40",
        "--rate",
        "80",
        home=tmp_path,
    )
    assert added.returncode == 0, added.stderr
    listed = kgft("ledger", "list", home=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "ft\t3200" in listed.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("eval", "run", "--dataset", "no-such-set", "--out", "x"), "no-such-set"),
        (("eval", "run", "--dataset", "kg-legal", "--routes", "kg,zz", "--out", "x"), "--routes"),
        (("eval", "report", "/no/such/run"), "run.json"),
        (
            ("ledger", "add", "--route", "ft", "--kind", "expert_hours", "--hours", "-3", "--rate", "80"),
            "negative",
        ),
        (("ledger", "add", "--route", "ft", "--kind", "x", "--usd", "lots"), "not a number"),
    ],
)
def test_bad_input_is_one_line_and_nonzero(tmp_path, args, message):
    result = kgft(*args, home=tmp_path)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr
