"""A run's folder: `run.json` names the run in the results store, so a re-run resumes the same rows."""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

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


def open_run(out_dir: Path, dataset: str, routes: list[str], kg_derived: bool, limit: int | None) -> RunInfo:
    """The folder's existing run when it has one (resume), else a new run written before any answer."""
    existing = read_run(out_dir) if (out_dir / RUN_FILE).exists() else None
    if existing is not None:
        if existing.dataset != dataset:
            raise KgftError(
                f"{out_dir} holds a run of '{existing.dataset}', not '{dataset}'; choose another --out"
            )
        merged = existing.routes + [route for route in routes if route not in existing.routes]
        info = RunInfo(existing.run_id, dataset, merged, kg_derived, limit, existing.created_at)
    else:
        run_id = f"{out_dir.resolve().name}-{uuid.uuid4().hex[:8]}"
        info = RunInfo(
            run_id, dataset, routes, kg_derived, limit, datetime.now(UTC).isoformat(timespec="seconds")
        )
    _write(out_dir, info)
    return info


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
