"""What a route was built from, and booking its build cost where the route is served or evaluated.

A route that reads a graph or serves a trained model says so through an optional `builds()` method
(the `BuiltRoute` protocol); eval and the gateway book the entries it returns once each (by entry id),
and the summary calls a route's costs incomplete when a build it names has no entry in the ledger.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, runtime_checkable

from kgft.contract import Route
from kgft.ledger import Ledger, LedgerEntry


@dataclass(frozen=True)
class Build:
    """One thing a route was built from (a graph, a trained model)."""

    what: str  # for people: "graph ladybug:/home/graph", "SmolLM2-135M-Instruct + LoRA"
    config: str  # the project config ledger entries name (kgft.projects)
    # Entries to book where the route runs: a card's runs. Empty when the builder ledgered them itself.
    entries: tuple[LedgerEntry, ...] = field(default=())


@runtime_checkable
class BuiltRoute(Protocol):
    def builds(self) -> Sequence[Build]: ...


@dataclass(frozen=True)
class Booking:
    route: str
    builds: list[Build]
    booked: list[LedgerEntry]  # appended by this call
    already: int  # entries the ledger held before

    def line(self) -> str:
        """What booking did, in one line for the console."""
        if not self.builds:
            return f"{self.route}: no build to book"
        if self.booked:
            total = sum((entry.cost_usd for entry in self.booked if entry.priced), Decimal(0))
            count = "1 entry" if len(self.booked) == 1 else f"{len(self.booked)} entries"
            return f"{self.route}: build cost booked (${total.normalize():f}, {count})"
        if self.already:
            return f"{self.route}: build cost already in the ledger"
        return f"{self.route}: built from {', '.join(b.what for b in self.builds)}; booked where it was built"


def route_builds(route: Route) -> list[Build]:
    """The route's builds; a route without `builds()` (a plain API model) was built from nothing here."""
    return list(route.builds()) if isinstance(route, BuiltRoute) else []


def book_builds(name: str, route: Route, ledger: Ledger) -> Booking:
    """Books the route's build entries the ledger lacks; calling it again books nothing."""
    builds = route_builds(route)
    offered = [entry for build in builds for entry in build.entries]
    booked = ledger.book(offered)
    return Booking(name, builds, booked, len(offered) - len(booked))


def build_labels(builds: Sequence[Build]) -> list[dict[str, str]]:
    """The builds as stored on result rows, so a report knows what each route needs booked."""
    return [{"what": build.what, "config": build.config} for build in builds]
