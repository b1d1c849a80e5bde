"""Reports for one run: report.html (self-contained, with figures), report.md and summary.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from eval.report.html import render_html
from eval.report.markdown import render_markdown
from eval.report.plots import draw_plots
from kgft.results_store import ResultRow


def write_report(summary: dict[str, Any], rows: Sequence[ResultRow], out_dir: Path) -> dict[str, Path]:
    """Writes the three files into out_dir and returns their paths keyed "html", "md" and "json"."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"html": out_dir / "report.html", "md": out_dir / "report.md", "json": out_dir / "summary.json"}
    paths["html"].write_text(render_html(summary, draw_plots(summary, rows)), encoding="utf-8")
    paths["md"].write_text(render_markdown(summary), encoding="utf-8")
    paths["json"].write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return paths
