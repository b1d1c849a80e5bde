"""The layering holds: the core imports no part, routes don't import each other, services use routes
only through the contract; and the check itself catches a planted violation."""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path

import pytest

from kgft.graph_store import GRAPH_STORES
from kgft.routes import ROUTES, route_names
from tests.layering import PACKAGES, violations

ROOT = Path(__file__).resolve().parents[1]


def test_the_code_imports_only_downwards() -> None:
    assert [str(violation) for violation in violations(ROOT)] == []


@pytest.mark.parametrize(
    ("importer", "line", "expected"),
    [
        ("kgft/leak.py", "from eval.runner import run", "kgft imports eval"),
        ("kgft/lazy.py", "def f():\n    import gateway.app\n", "kgft imports gateway"),
        ("ft_route/data/x.py", "from kg_route.store import open_store", "ft_route imports kg_route"),
        ("gateway/x.py", "from eval.summary import summarize", "gateway imports eval"),
        ("eval/x.py", "import ft_route.serve.route", "eval imports ft_route"),
        ("gateway/x.py", "from kgft.plain_route import PlainRoute", "gateway imports kgft.plain_route"),
        (
            "kgft/plugins.py",
            "from importlib import import_module\nimport_module('kg_route.factory')",
            "kgft imports kg_route",
        ),
    ],
)
def test_a_planted_violation_is_caught(tmp_path: Path, importer: str, line: str, expected: str) -> None:
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("from kgft.contract import Route\n")
    (tmp_path / "kgft_cli" / "main.py").write_text("import eval.cli\nimport kg_route.cli\n")
    path = tmp_path / importer
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(line + "\n")
    found = [str(violation) for violation in violations(tmp_path)]
    assert len(found) == 1
    assert found[0].startswith(importer) and found[0].endswith(expected)


def test_routes_and_graph_stores_are_found_through_entry_points() -> None:
    assert route_names() == ["ft", "hybrid", "kg", "kg-lexical", "llm"]
    for point in entry_points(group=ROUTES):
        assert callable(point.load()), point
    (store,) = entry_points(group=GRAPH_STORES)
    assert store.load().__module__ == "kg_route.store"
