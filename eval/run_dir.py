"""A run's folder: `run.json` names the run in the results store, so a re-run resumes the same rows.

It also keeps each route's configuration (eval.route_config): a re-run that would answer with another
backend, reader, build or prompt is refused, so one report never mixes two configurations.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from eval.route_config import configuration_change
from kgft.errors import KgftError

RUN_FILE = "run.json"


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    dataset: str
    routes: list[str]
    kg_derived: bool
    limit: int | None
    created_at: str
    # route → configuration; empty in run files from before configurations were kept.
    configs: dict[str, dict[str, str]] = field(default_factory=dict)


def open_run(
    out_dir: Path,
    dataset: str,
    configs: dict[str, dict[str, str]],
    kg_derived: bool,
    limit: int | None,
) -> RunInfo:
    """The folder's existing run when it has one (resume), else a new run written before any answer.
    `configs` names the routes to run, in order, with their configurations."""
    existing = read_run(out_dir) if (out_dir / RUN_FILE).exists() else None
    routes = list(configs)
    if existing is not None:
        if existing.dataset != dataset:
            raise KgftError(
                f"{out_dir} holds a run of '{existing.dataset}', not '{dataset}'; choose another --out"
            )
        _refuse_changed(out_dir, existing.configs, configs)
        merged = existing.routes + [route for route in routes if route not in existing.routes]
        kept = existing.configs | configs
        info = RunInfo(existing.run_id, dataset, merged, kg_derived, limit, existing.created_at, kept)
    else:
        run_id = f"{out_dir.resolve().name}-{uuid.uuid4().hex[:8]}"
        created = datetime.now(UTC).isoformat(timespec="seconds")
        info = RunInfo(run_id, dataset, routes, kg_derived, limit, created, dict(configs))
    _write(out_dir, info)
    return info


def _refuse_changed(out_dir: Path, before: dict[str, dict[str, str]], now: dict[str, dict[str, str]]) -> None:
    """One line naming the first route whose configuration differs from the one its rows came from."""
    for route, configuration in now.items():
        if route in before and before[route] != configuration:
            change = configuration_change(before[route], configuration)
            raise KgftError(
                f"{out_dir}: route '{route}' answered this run with another configuration ({change}); "
                "resuming would mix the two in one report, so choose another --out"
            )


def read_run(out_dir: Path) -> RunInfo:
    path = out_dir / RUN_FILE
    if not path.is_file():
        raise KgftError(f"{out_dir} has no {RUN_FILE}; run `kgft eval run --out {out_dir}` first")
    try:
        return RunInfo(**json.loads(path.read_text("utf-8")))
    except (json.JSONDecodeError, TypeError) as exc:
        raise KgftError(f"{path} is not a kgft run file: {exc}") from exc


def _write(out_dir: Path, info: RunInfo) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    temporary = out_dir / f".{RUN_FILE}.tmp"
    temporary.write_text(json.dumps(asdict(info), ensure_ascii=False, indent=2) + "\n", "utf-8")
    os.replace(temporary, out_dir / RUN_FILE)
