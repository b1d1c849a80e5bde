"""Route name → builder, found through the `kgft.routes` entry point group.

The routes declare themselves in pyproject.toml, so the core imports none of them: the CLI, gateway and
eval see a route only as a `Route`, and a new route is a package with a builder and one entry point.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from kgft.backends.registry import MODEL_LOADING
from kgft.contract import Route
from kgft.errors import KgftError
from kgft.pricing import PriceBook
from kgft.settings import Settings

ROUTES = "kgft.routes"  # entry point group: name -> build_route(settings, prices) -> Route


def route_names() -> list[str]:
    return sorted(_builders())


def build_route(name: str, settings: Settings, prices: PriceBook) -> Route:
    builders = _builders()
    if name not in builders:
        raise KgftError(f"unknown route '{name}'; use one of: {', '.join(sorted(builders))}")
    with MODEL_LOADING:  # a route's modules may import transformers, which must not race a model load
        route: Route = builders[name].load()(settings, prices)
    return route


def _builders() -> dict[str, EntryPoint]:
    return {point.name: point for point in entry_points(group=ROUTES)}
