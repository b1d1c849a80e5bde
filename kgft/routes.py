"""Route name → builder. Imports are lazy: the CLI, gateway and eval see routes only as `Route`."""

from __future__ import annotations

from importlib import import_module

from kgft.contract import Route
from kgft.errors import KgftError
from kgft.pricing import PriceBook
from kgft.settings import Settings

_BUILDERS: dict[str, str] = {
    "kg": "kg_route.factory:build_route",
    "ft": "ft_route.serve.factory:build_route",
    "llm": "kgft.plain_route:build_route",
}


def route_names() -> list[str]:
    return sorted(_BUILDERS)


def build_route(name: str, settings: Settings, prices: PriceBook) -> Route:
    if name not in _BUILDERS:
        raise KgftError(f"unknown route '{name}'; use one of: {', '.join(route_names())}")
    module_name, _, function = _BUILDERS[name].partition(":")
    route: Route = getattr(import_module(module_name), function)(settings, prices)
    return route
