"""What a route answers with, and its short key: a run's rows all come from one configuration per route.

The parts are the ones an answer's diagnostics and the ledger already name: the backend spec and the
reader (kg_route's `_configuration`), the builds (kgft.projects: the graph store read, the trained
model's data hash), the MCQ mode, and the version of the shared option-reading prompt. The route
contract does not carry them, so they are read where each route keeps them before it answers anything:
a resumed run can refuse a changed configuration before paying for one answer.
"""

from __future__ import annotations

import hashlib
import json

from kgft.builds import route_builds
from kgft.contract import Route
from kgft.option_scoring import OPTION_PROMPT_VERSION
from kgft.settings import Settings

KEY_LENGTH = 12


def route_configuration(route: Route, settings: Settings) -> dict[str, str]:
    """The route's configuration as plain strings, the same whether read now or from run.json."""
    return {
        "backend": _backend_spec(route),
        # The KG route names its reader; the other routes read options by the shared rule only.
        "reader": str(getattr(route, "reader_name", "llm")),
        "mcq_mode": settings.mcq_mode,
        "builds": ", ".join(sorted(build.config for build in route_builds(route))),
        "option_prompt": OPTION_PROMPT_VERSION,
    }


def configuration_key(configuration: dict[str, str]) -> str:
    """A short, stable hash of a configuration, stored on every row the route writes."""
    canonical = json.dumps(configuration, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:KEY_LENGTH]


def configuration_change(before: dict[str, str], now: dict[str, str]) -> str:
    """What changed between two configurations, for a one-line refusal ("backend a → b")."""
    changed = [
        f"{part} {before.get(part) or '—'} → {now.get(part) or '—'}"
        for part in sorted(before.keys() | now.keys())
        if before.get(part) != now.get(part)
    ]
    return "; ".join(changed)


def _backend_spec(route: Route) -> str:
    """The KG route keeps its spec and builds the backend only when a model is needed (so reading it
    must not load one); the FT and `llm` routes hold a built backend."""
    spec = getattr(route, "backend_spec", None)
    if spec is None:
        spec = getattr(getattr(route, "backend", None), "spec", None)
    return str(spec) if spec is not None else "none"
