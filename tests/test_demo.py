"""`kgft demo` on a fresh home without the shared data: the README's main command, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.cli_env import shared_model_cache

KGFT = str(Path(sys.executable).parent / "kgft")


def test_demo_builds_the_routes_runs_them_and_writes_the_report(tmp_path):
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        **shared_model_cache(),
        "KGFT_HOME": str(tmp_path / "home"),
        "KGFT_THREADS": "1",
    }
    out = tmp_path / "demo"
    no_shared = tmp_path / "empty"
    no_shared.mkdir()

    def demo() -> subprocess.CompletedProcess[str]:
        args = [KGFT, "demo", "--n", "6", "--out", str(out), "--data-dir", str(no_shared)]
        return subprocess.run(args, capture_output=True, text=True, env=env, timeout=600, check=False)

    result = demo()
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text("utf-8"))
    assert summary["kg_derived"] is True  # no LexEval here, so questions generated from the graph
    routes = {name: stats["n"] for name, stats in summary["routes"].items()}
    assert routes == {"llm": 6, "kg": 6, "ft": 6, "hybrid": 6, "kg-lexical": 6}
    assert summary["routes"]["ft"]["build_cost_usd"] == "0.0379427469"  # the shipped adapter's card
    assert summary["verdict"] in result.stdout
    assert (out / "report.html").is_file()

    again = demo()
    assert again.returncode == 0, again.stderr
    assert "already in the ledger" in " ".join(again.stderr.split())  # the training cost is booked once
