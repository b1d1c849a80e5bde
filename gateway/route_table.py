"""The routes the gateway serves and whether each is ready: building one can take minutes (graph, model).

Routes are built in a background thread so /healthz answers at once and /readyz can say what is loading;
a route that fails to build stays unavailable with its error, and the others serve.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence

from kgft.builds import book_builds
from kgft.contract import Route
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.routes import build_route
from kgft.settings import Settings

log = logging.getLogger("kgft.gateway")

LOADING = "loading"
READY = "ready"


class RouteUnavailable(Exception):
    def __init__(self, route: str, state: str):
        detail = "is still loading" if state == LOADING else f"failed to load: {state}"
        super().__init__(f"route '{route}' {detail}")
        self.route = route
        self.loading = state == LOADING


class RouteTable:
    def __init__(self, names: Sequence[str], routes: Mapping[str, Route] | None = None):
        self.names = list(names)
        self._routes: dict[str, Route] = dict(routes or {})
        self._built_here: list[Route] = []
        self._state = {name: READY if name in self._routes else LOADING for name in self.names}

    def get(self, name: str) -> Route:
        route = self._routes.get(name)
        if route is None:
            raise RouteUnavailable(name, self._state.get(name, LOADING))
        return route

    def build(self, settings: Settings, prices: PriceBook) -> None:
        """Builds every route not given; runs in its own thread."""
        for name in self.names:
            if name in self._routes:
                continue
            try:
                route = build_route(name, settings, prices)
            except Exception as exc:
                log.error("route '%s' failed to load: %s", name, exc)
                self._state[name] = f"{type(exc).__name__}: {exc}".splitlines()[0]
                continue
            self._built_here.append(route)
            self._routes[name] = route
            self._state[name] = READY
            log.info("route '%s' is ready", name)
            _book(name, route, settings)

    def start_building(self, settings: Settings, prices: PriceBook) -> None:
        if any(state == LOADING for state in self._state.values()):
            threading.Thread(
                target=self.build, args=(settings, prices), name="kgft-build", daemon=True
            ).start()

    def states(self) -> dict[str, str]:
        return dict(self._state)

    def ready(self) -> bool:
        return all(state == READY for state in self._state.values())

    def close(self) -> None:
        """Closes the routes built here; routes passed in belong to the caller."""
        for route in self._built_here:
            close = getattr(route, "close", None)
            if close is not None:
                close()


def _book(name: str, route: Route, settings: Settings) -> None:
    """A served route's build cost is booked once (kgft.builds); a ledger fault must not stop serving."""
    try:
        log.info("%s", book_builds(name, route, Ledger(settings.ledger_path)).line())
    except Exception as exc:
        log.error("route '%s': its build cost could not be booked: %s", name, exc)
