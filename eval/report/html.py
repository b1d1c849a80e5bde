"""report.html: one self-contained page (inline CSS and SVG, no external URLs) that opens offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from eval.report import formatting as fmt
from eval.report.plots import Plot

TEMPLATE = "report.html.j2"

# Autoescape everywhere: route names, categories and ledger descriptions are user text.
_environment = Environment(
    loader=FileSystemLoader(Path(__file__).parent),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_environment.filters.update(
    usd=fmt.usd,
    pct=fmt.pct,
    pts=fmt.pts,
    ci=fmt.ci,
    usd_ci=fmt.usd_ci,
    ms=fmt.ms,
    p_value=fmt.p_value,
    volume=fmt.volume,
)


def render_html(summary: dict[str, Any], plots: list[Plot]) -> str:
    open_routes = [name for name in summary["route_order"] if summary["routes"][name]["open_answers"]]
    return _environment.get_template(TEMPLATE).render(s=summary, plots=plots, open_routes=open_routes)
