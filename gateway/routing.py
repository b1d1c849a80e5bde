"""Which route answers a request: a route named directly, an experiment's arm, or what `auto` means.

An experiment assigns a user to an arm by a stable hash of (experiment, user), so the same user keeps
the same arm across requests and restarts. A request with no user is assigned by its API key (one app
or person per key keeps one arm), and only with neither gets a random arm; `Plan.sticky` says which.
"""

from __future__ import annotations

import bisect
import hashlib
import random
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from kgft.errors import KgftError
from kgft.settings import GatewayExperiment

AUTO = "auto"


@dataclass(frozen=True)
class Plan:
    """What one request will run: the served route, and what runs beside or instead of it."""

    route: str
    requested: str
    timeout_s: float
    experiment: str | None = None
    shadow: str | None = None
    fallback: str | None = None
    sticky: str | None = None  # what assigned the arm: "user", "key" or "random"; None outside experiments


class UnknownModel(Exception):
    def __init__(self, model: str, known: list[str]):
        super().__init__(f"model '{model}' does not exist; use one of: {', '.join(known)}")
        self.model = model
        self.known = known


class _Arms:
    """Arms in name order with cumulative weight bounds in [0, 1)."""

    def __init__(self, weights: Mapping[str, float]):
        chosen = sorted((name, weight) for name, weight in weights.items() if weight > 0)
        total = sum(weight for _, weight in chosen)
        self.names = [name for name, _ in chosen]
        self.bounds: list[float] = []
        running = 0.0
        for _, weight in chosen:
            running += weight / total
            self.bounds.append(running)

    def pick(self, point: float) -> str:
        return self.names[min(bisect.bisect_right(self.bounds, point), len(self.names) - 1)]


def sticky_point(experiment: str, user: str) -> float:
    """A point in [0, 1) that depends only on the experiment and the user."""
    digest = hashlib.sha256(f"{experiment}\0{user}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


class Router:
    def __init__(
        self,
        routes: Collection[str],
        experiments: Mapping[str, GatewayExperiment],
        default: str,
        timeout_s: float,
    ):
        _check(routes, experiments, default)
        self.routes = sorted(routes)
        self.experiments = dict(experiments)
        self.default = default
        self.timeout_s = timeout_s
        self._arms = {name: _Arms(experiment.arms) for name, experiment in experiments.items()}

    def models(self) -> list[str]:
        """What a client may send as `model`."""
        return [*self.routes, *sorted(self.experiments), AUTO]

    def plan(self, model: str, user: str | None, key: str | None = None) -> Plan:
        target = self.default if model == AUTO else model
        if target in self.experiments:
            experiment = self.experiments[target]
            if user is not None:
                sticky, point = "user", sticky_point(target, user)
            elif key is not None:
                # the NUL keeps a key's point apart from a user who happens to share the key's name
                sticky, point = "key", sticky_point(target, f"key\x00{key}")
            else:
                sticky, point = "random", random.random()
            route = self._arms[target].pick(point)
            return Plan(
                route=route,
                requested=model,
                experiment=target,
                shadow=experiment.shadow if experiment.shadow != route else None,
                fallback=experiment.fallback if experiment.fallback != route else None,
                timeout_s=experiment.timeout_s or self.timeout_s,
                sticky=sticky,
            )
        if target in self.routes:
            return Plan(route=target, requested=model, timeout_s=self.timeout_s)
        raise UnknownModel(model, self.models())


def _check(routes: Collection[str], experiments: Mapping[str, GatewayExperiment], default: str) -> None:
    """Configuration mistakes stop the gateway at start, not at a user's first request."""
    if not routes:
        raise KgftError("the gateway has no routes; set gateway_routes or pass --routes kg,ft")
    for name, experiment in experiments.items():
        if name in routes or name == AUTO:
            raise KgftError(f"experiment '{name}' has the name of a route; rename it")
        named = [*experiment.arms, *filter(None, [experiment.shadow, experiment.fallback])]
        missing = sorted({route for route in named if route not in routes})
        if missing:
            raise KgftError(
                f"experiment '{name}' uses route(s) {', '.join(missing)} that the gateway does not serve; "
                f"it serves: {', '.join(sorted(routes))}"
            )
    if default not in routes and default not in experiments:
        raise KgftError(f"gateway_default '{default}' is neither a served route nor an experiment")
