"""Worked cost scenarios: a headline figure rebuilt from its published parts, then the rest of the bill.

A scenario is a TOML file of lines, each a ledger kind with its arithmetic (GPUs × hours × rate, tokens ×
price, people × months × salary, a share of a published cost) and its source, date and evidence
(published, estimate, assumption, unknown). The shipped ones (eval/scenarios/) rebuild s1's "$50" and
DeepSeek-V3's "$5.576M"; a user's own file answers "what does our assistant really cost".
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path
from typing import Any

from eval.costs import CostInputError
from kgft.ledger_kinds import KINDS
from kgft.pricing import PriceBook, money

EVIDENCE = ("published", "estimate", "assumption", "unknown")
_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class Line:
    kind: str
    what: str
    usd: Decimal
    basis: str
    evidence: str
    source: str
    as_of: str
    in_headline: bool


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    headline: str  # the figure as quoted, e.g. "$50"
    headline_quoted_usd: Decimal | None
    lines: list[Line]
    note: str
    monthly_queries: int | None = None
    amortization_months: int | None = None
    runtime_per_query_usd: Decimal = Decimal(0)
    fixed_monthly: tuple[Line, ...] = ()

    @property
    def headline_usd(self) -> Decimal:
        return sum((line.usd for line in self.lines if line.in_headline), Decimal(0))

    @property
    def total_usd(self) -> Decimal:
        return sum((line.usd for line in self.lines), Decimal(0))

    @property
    def fixed_monthly_usd(self) -> Decimal:
        return sum((line.usd for line in self.fixed_monthly), Decimal(0))

    def headline_share(self) -> Decimal | None:
        return None if self.total_usd == 0 else self.headline_usd / self.total_usd

    def all_in_per_query(self, monthly_queries: int, months: int) -> Decimal:
        """The same formula as a measured route's (eval.costs.all_in_per_query)."""
        return (
            self.runtime_per_query_usd
            + self.total_usd / (monthly_queries * months)
            + self.fixed_monthly_usd / monthly_queries
        )


def shipped_scenarios() -> list[str]:
    folder = files("eval").joinpath("scenarios")
    return sorted(item.name.removesuffix(".toml") for item in folder.iterdir() if item.name.endswith(".toml"))


def load_scenario(name_or_path: str, prices: PriceBook) -> Scenario:
    """A shipped scenario by name (s1, deepseek-v3), or a TOML file of the same shape."""
    path = Path(name_or_path)
    if name_or_path in shipped_scenarios():
        text = files("eval").joinpath("scenarios", f"{name_or_path}.toml").read_text("utf-8")
    elif path.is_file():
        text = path.read_text("utf-8")
    else:
        raise CostInputError(
            f"no scenario '{name_or_path}': name one of {', '.join(shipped_scenarios())} or a TOML file"
        )
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CostInputError(f"scenario {name_or_path} is not valid TOML: {exc}") from exc
    return _scenario(data, prices, name_or_path)


def _scenario(data: dict[str, Any], prices: PriceBook, where: str) -> Scenario:
    raw_lines = data.get("line", [])
    if not raw_lines:
        raise CostInputError(f"scenario {where} has no [[line]] entries")
    lines = [_line(raw, prices, f"{where} line {n}") for n, raw in enumerate(raw_lines, 1)]
    headline = sum((line.usd for line in lines if line.in_headline), Decimal(0))
    lines = [_less_headline(line, raw, headline) for line, raw in zip(lines, raw_lines, strict=True)]
    serving = data.get("serving", {})
    fixed = tuple(
        _line(raw, prices, f"{where} fixed {n}") for n, raw in enumerate(serving.get("fixed", []), 1)
    )
    quoted = data.get("headline_usd")
    return Scenario(
        name=str(data.get("name", where)),
        title=str(data.get("title", where)),
        headline=str(data.get("headline", "")),
        headline_quoted_usd=None if quoted is None else _number(quoted, f"{where} headline_usd"),
        lines=lines,
        note=str(data.get("note", "")),
        monthly_queries=serving.get("monthly_queries"),
        amortization_months=serving.get("amortization_months"),
        runtime_per_query_usd=_number(
            serving.get("runtime_per_query_usd", "0"), f"{where} runtime_per_query_usd"
        ),
        fixed_monthly=fixed,
    )


def _line(raw: dict[str, Any], prices: PriceBook, where: str) -> Line:
    kind = str(raw.get("kind", ""))
    if kind not in KINDS and kind != "serving":
        raise CostInputError(f"{where}: unknown kind '{kind}'; use one of {', '.join(sorted(KINDS))}")
    evidence = str(raw.get("evidence", ""))
    if evidence not in EVIDENCE:
        raise CostInputError(f"{where}: evidence must be one of {', '.join(EVIDENCE)}, got '{evidence}'")
    if not str(raw.get("source", "")).strip():
        raise CostInputError(f"{where}: every line names its source")
    usd, basis = _amount(raw, prices, where)
    return Line(
        kind=kind,
        what=str(raw.get("what", kind)),
        usd=usd,
        basis=basis,
        evidence=evidence,
        source=str(raw["source"]),
        as_of=str(raw.get("as_of", "")),
        in_headline=bool(raw.get("in_headline", False)),
    )


def _amount(raw: dict[str, Any], prices: PriceBook, where: str) -> tuple[Decimal, str]:
    """The line's arithmetic, from whichever parts it states."""
    get = lambda key: _number(raw[key], f"{where} {key}")  # noqa: E731
    if "gpu_hours" in raw or "gpus" in raw:
        rate, label = _rate(raw, prices, where)
        if "gpu_hours" in raw:
            hours = get("gpu_hours")
            return hours * rate, f"{_n(hours)} GPU-h × {money(rate)}/h ({label})"
        gpus = get("gpus")
        hours = get("minutes") / 60 if "minutes" in raw else get("hours")
        span = f"{_n(get('minutes'))} min" if "minutes" in raw else f"{_n(hours)} h"
        return gpus * hours * rate, f"{_n(gpus)} × {label} × {span} × {money(rate)}/h"
    if "output_tokens" in raw or "input_tokens" in raw:
        tokens_in, tokens_out = get("input_tokens"), get("output_tokens")
        price_in, price_out = get("input_usd_per_m"), get("output_usd_per_m")
        usd = (tokens_in * price_in + tokens_out * price_out) / _MILLION
        return usd, f"{_n(tokens_in)} in × {money(price_in)}/M + {_n(tokens_out)} out × {money(price_out)}/M"
    if "people" in raw:
        people, months, salary = get("people"), get("months"), get("usd_per_person_year")
        return (
            people * months / 12 * salary,
            f"{_n(people)} people × {_n(months)} months × {money(salary)}/year",
        )
    if "fraction" in raw:
        fraction = get("fraction")
        if fraction == 0:
            return Decimal(0), f"0 × (reason: {raw.get('reason', '')})"
        published = get("published_usd")
        return fraction * published, f"{_n(fraction)} × {money(published)} published"
    if "purchase_usd" in raw:
        purchase, months, life = get("purchase_usd"), get("months"), get("life_months")
        return (
            purchase * months / life,
            f"{money(purchase)} × {_n(months)} / {_n(life)} months (straight line)",
        )
    if "hours" in raw:
        hours, rate = get("hours"), get("rate_usd")
        return hours * rate, f"{_n(hours)} h × {money(rate)}/h"
    if "usd" in raw:
        usd = get("usd")
        return usd, str(raw.get("basis", f"{money(usd)} flat"))
    raise CostInputError(f"{where}: state gpu_hours, gpus, tokens, people, fraction, purchase_usd or usd")


def _rate(raw: dict[str, Any], prices: PriceBook, where: str) -> tuple[Decimal, str]:
    """A stated rate_usd, or the rate prices.toml ships for `device`."""
    if "rate_usd" in raw:
        return _number(raw["rate_usd"], f"{where} rate_usd"), str(raw.get("device", "GPU"))
    device = str(raw.get("device", ""))
    rate = prices.devices.get(device)
    if rate is None:
        raise CostInputError(f"{where}: no rate for device '{device}' in the prices; state rate_usd")
    return rate.usd_per_hour, rate.label


def _less_headline(line: Line, raw: dict[str, Any], headline: Decimal) -> Line:
    """A fleet's write-off already contains the headline run's hours: count those once."""
    if not raw.get("less_headline"):
        return line
    usd = max(Decimal(0), line.usd - headline)
    return Line(
        line.kind,
        line.what,
        usd,
        f"{line.basis} − the headline's {money(headline.quantize(Decimal('0.01')))} on the same hardware",
        line.evidence,
        line.source,
        line.as_of,
        line.in_headline,
    )


def _number(raw: Any, where: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        raise CostInputError(f"{where}: {raw!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise CostInputError(f"{where}: {raw!r} must be a non-negative number")
    return value


def _n(value: Decimal) -> str:
    return f"{value.normalize():,f}"


def scenario_summary(scenario: Scenario, *, monthly_queries: int, months: int) -> dict[str, Any]:
    """The scenario as the report shows it beside measured routes (decimal strings, like the summary)."""
    share = scenario.headline_share()
    return {
        "name": scenario.name,
        "title": scenario.title,
        "headline": scenario.headline,
        "headline_usd": _cents(scenario.headline_usd),
        "build_usd": _cents(scenario.total_usd),
        "headline_share": None if share is None else float(share),
        "headline_share_text": "—" if share is None else _percent(share),
        "fixed_monthly_usd": _cents(scenario.fixed_monthly_usd),
        "runtime_per_query_usd": str(scenario.runtime_per_query_usd),
        "all_in_cost_per_query_usd": format(
            scenario.all_in_per_query(monthly_queries, months).quantize(Decimal("1e-10")).normalize(), "f"
        ),
        "lines": [
            {
                "kind": line.kind,
                "what": line.what,
                "usd": _cents(line.usd),
                "basis": line.basis,
                "evidence": line.evidence,
                "source": line.source,
                "as_of": line.as_of,
                "in_headline": line.in_headline,
            }
            for line in [*scenario.lines, *scenario.fixed_monthly]
        ],
    }


def _cents(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01")), "f")


def render_scenario(
    scenario: Scenario, *, monthly_queries: int | None = None, months: int | None = None
) -> str:
    """Plain text for the console and the README: every line with its arithmetic, evidence and source."""
    out = [f"{scenario.title}", ""]
    for line in scenario.lines:
        mark = "  [headline]" if line.in_headline else ""
        out.append(f"{_usd(line.usd):>16}  {line.kind:<21} {line.what}{mark}")
        out.append(f"{'':>16}  {'':<21} = {line.basis}")
        out.append(f"{'':>16}  {'':<21}   {line.evidence}: {line.source} ({line.as_of})")
    out.append("")
    quoted = f" (quoted as {scenario.headline})" if scenario.headline else ""
    out.append(f"{_usd(scenario.headline_usd):>16}  headline, rebuilt from its published parts{quoted}")
    out.append(f"{_usd(scenario.total_usd):>16}  total build cost, every line above")
    share = scenario.headline_share()
    if share is not None:
        out.append(f"{_percent(share):>16}  the headline's share of the total")
        if scenario.headline_quoted_usd:
            out.append(
                f"{_percent(scenario.headline_quoted_usd / scenario.total_usd):>16}  "
                f"the quoted {money(scenario.headline_quoted_usd)}'s share of the total"
            )
    volume = monthly_queries or scenario.monthly_queries
    span = months or scenario.amortization_months
    if volume and span:
        out.append("")
        for line in scenario.fixed_monthly:
            out.append(f"{_usd(line.usd):>16}  fixed a month: {line.what}")
            out.append(f"{'':>16}  = {line.basis} ({line.evidence}: {line.source})")
        all_in = scenario.all_in_per_query(volume, span)
        out.append(
            f"{_usd(all_in, places=4):>16}  all-in per query at {volume:,} queries/month, build written off "
            f"over {span} months (runtime {money(scenario.runtime_per_query_usd)} + build + fixed)"
        )
    if scenario.note:
        out += ["", scenario.note]
    return "\n".join(out)


def _usd(value: Decimal, places: int = 2) -> str:
    return f"${value.quantize(Decimal(10) ** -places):,f}"


def _percent(share: Decimal) -> str:
    percent = share * 100
    return f"{percent:.2g}%" if percent < 10 else f"{percent:.0f}%"
