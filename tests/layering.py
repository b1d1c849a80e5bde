"""Which way imports may point, read from the code itself (README: Architecture).

core (kgft) ← routes (kg_route, ft_route) and services (gateway, eval) ← shell (kgft_cli). A part may
import the core and itself; only the shell imports every part. Lazy imports inside functions and
`importlib.import_module("...")` with a literal name count like any other import.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

CORE = "kgft"
SHELL = "kgft_cli"
PARTS = ("kg_route", "ft_route", "gateway", "eval")
PACKAGES = (CORE, *PARTS, SHELL)
# A route that lives in the core (it needs nothing but a backend): imported like a route, by the shell only.
CORE_ROUTES = ("kgft.plain_route",)


@dataclass(frozen=True)
class Violation:
    where: str  # path:line
    importer: str
    imported: str

    def __str__(self) -> str:
        return f"{self.where}: {self.importer} imports {self.imported}"


def allowed(importer: str, imported: str) -> bool:
    return importer == SHELL or imported in (importer, CORE)


def violations(root: Path) -> list[Violation]:
    """Every import in the packages under `root` that points the wrong way."""
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            for line, imported in _imported_modules(path):
                target = _forbidden(package, module, imported)
                if target is not None:
                    found.append(Violation(f"{path.relative_to(root)}:{line}", package, target))
    return found


def _forbidden(package: str, module: str, imported: str) -> str | None:
    """What `imported` reaches that `package` may not: another part, or a route kept in the core."""
    top = imported.partition(".")[0]
    if top in PACKAGES and not allowed(package, top):
        return top
    if package != SHELL and module not in CORE_ROUTES and imported.startswith(CORE_ROUTES):
        return imported
    return None


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append((node.lineno, node.module))
        elif _is_import_module_call(node):
            assert isinstance(node, ast.Call)
            names.append((node.lineno, node.args[0].value))  # type: ignore[attr-defined]
    return names


def _is_import_module_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call) or not node.args:
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    first = node.args[0]
    return name == "import_module" and isinstance(first, ast.Constant) and isinstance(first.value, str)
