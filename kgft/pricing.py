"""Runtime cost from measured tokens or measured seconds, in Decimal, with the arithmetic shown."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path
from typing import Any

from kgft.contract import Cost
from kgft.errors import PricingError

_MILLION = Decimal(1_000_000)
_SECONDS_PER_HOUR = Decimal(3600)
# Sub-nano-dollar digits are noise; a fixed scale keeps sums exact and JSON short.
_USD_SCALE = Decimal("1e-12")


@dataclass(frozen=True)
class TokenPrice:
    """USD per 1M tokens; cached input falls back to the input price when a provider lists none."""

    input: Decimal
    output: Decimal
    cached_input: Decimal | None = None


@dataclass(frozen=True)
class DeviceRate:
    label: str
    usd_per_hour: Decimal
    per_core: bool = False


def money(value: Decimal) -> str:
    """`$0.27` style, no trailing zeros, no float rounding."""
    text = format(value.normalize(), "f")
    return f"${text}"


def _decimal(raw: Any, where: str) -> Decimal:
    try:
        value = Decimal(str(raw))
    except InvalidOperation as exc:
        raise PricingError(f"{where}: {raw!r} is not a number") from exc
    if not value.is_finite():
        raise PricingError(f"{where}: {raw!r} is not a finite price")
    if value < 0:
        raise PricingError(f"{where}: price {raw!r} is negative")
    return value


class PriceBook:
    """The shipped prices with a user's file merged over them."""

    def __init__(self, models: dict[str, TokenPrice], devices: dict[str, DeviceRate]):
        self.models = models
        self.devices = devices

    @classmethod
    def load(cls, user_file: Path | None = None) -> PriceBook:
        shipped = tomllib.loads(files("kgft").joinpath("prices.toml").read_text("utf-8"))
        tables = [shipped]
        if user_file is not None:
            if not user_file.is_file():
                raise PricingError(f"prices file {user_file} does not exist")
            try:
                tables.append(tomllib.loads(user_file.read_text("utf-8")))
            except tomllib.TOMLDecodeError as exc:
                raise PricingError(f"prices file {user_file} is not valid TOML: {exc}") from exc
        models: dict[str, TokenPrice] = {}
        devices: dict[str, DeviceRate] = {}
        for table in tables:
            for name, entry in table.get("models", {}).items():
                where = f"models.{name}"
                cached = entry.get("cached_input")
                models[name] = TokenPrice(
                    input=_decimal(entry.get("input"), f"{where}.input"),
                    output=_decimal(entry.get("output"), f"{where}.output"),
                    cached_input=None if cached is None else _decimal(cached, f"{where}.cached_input"),
                )
            for name, entry in table.get("devices", {}).items():
                devices[name] = DeviceRate(
                    label=str(entry.get("label", name)),
                    usd_per_hour=_decimal(entry.get("usd_per_hour"), f"devices.{name}.usd_per_hour"),
                    per_core=bool(entry.get("per_core", False)),
                )
        return cls(models, devices)

    def token_cost(
        self, model: str, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0
    ) -> Cost:
        """API cost: uncached input + cached input + output (reasoning tokens are part of output)."""
        price = self.models.get(model)
        if price is None:
            return unpriced(
                f"no token price for model '{model}'; add [models.\"{model}\"] to a KGFT_PRICES file"
            )
        if not 0 <= cached_tokens <= prompt_tokens:
            raise PricingError(
                f"cached tokens ({cached_tokens}) must lie within the prompt ({prompt_tokens})"
            )
        cached_price = price.input if price.cached_input is None else price.cached_input
        fresh = prompt_tokens - cached_tokens
        usd = (
            fresh * price.input + cached_tokens * cached_price + completion_tokens * price.output
        ) / _MILLION
        parts = [f"{fresh} in × {money(price.input)}/M"]
        if cached_tokens:
            parts.append(f"{cached_tokens} cached × {money(cached_price)}/M")
        parts.append(f"{completion_tokens} out × {money(price.output)}/M")
        return Cost(runtime_usd=usd.quantize(_USD_SCALE), basis=" + ".join(parts), priced=True)

    def compute_cost(self, device: str, seconds: float, cores: int = 1) -> Cost:
        """Local cost: measured wall seconds × the device's hourly rate (× cores for per-core rates)."""
        rate = self.devices.get(device)
        if rate is None:
            return unpriced(
                f"no hourly rate for device '{device}'; add [devices.{device}] to a KGFT_PRICES file"
            )
        # Price the exact measurement; only the basis text is rounded (sub-ms retrieval must not cost $0).
        secs = Decimal(repr(seconds))
        hourly = rate.usd_per_hour * (cores if rate.per_core else 1)
        usd = secs * hourly / _SECONDS_PER_HOUR
        cores_text = "1 core" if cores == 1 else f"{cores} cores"
        what = (
            f"{rate.label}, {cores_text} × {money(rate.usd_per_hour)}/core-h" if rate.per_core else rate.label
        )
        return Cost(
            runtime_usd=usd.quantize(_USD_SCALE),
            basis=f"{_seconds_text(seconds)} s × {money(hourly)}/h ({what})",
            priced=True,
        )


def _seconds_text(seconds: float) -> str:
    """Millisecond resolution, or more digits when the measurement is shorter than that."""
    text = f"{seconds:.3f}" if seconds >= 0.001 or seconds == 0 else f"{seconds:.6f}"
    return format(Decimal(text).normalize(), "f")


def unpriced(reason: str) -> Cost:
    """An explicit 'we do not know', never a silent $0 that would flatter a route."""
    return Cost(runtime_usd=Decimal(0), basis=f"unpriced: {reason}", priced=False)


def combine(*costs: Cost) -> Cost:
    """One cost from several parts (retrieval compute + generation); unpriced if any part is."""
    usd = sum((cost.runtime_usd for cost in costs), Decimal(0))
    basis = " + ".join(f"({cost.basis})" if len(costs) > 1 else cost.basis for cost in costs)
    return Cost(runtime_usd=usd, basis=basis, priced=all(cost.priced for cost in costs))
