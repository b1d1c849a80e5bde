"""Runtime cost from measured tokens or measured seconds, in Decimal, with the arithmetic shown.

Local seconds are priced at the rate of the hardware that ran (kgft.hardware): a device no rate
matches is unpriced, never priced at the CPU rate. Reserved hardware can be priced per busy second at
a stated utilisation: a GPU kept for one route but busy 25% of the time costs 4× per busy second.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path
from typing import Any

from kgft.contract import Cost
from kgft.errors import PricingError
from kgft.hardware import Hardware, cpu

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


AUTO = "auto"  # KGFT_DEVICE's default: price the hardware found, not a named rate


@dataclass(frozen=True)
class DeviceRate:
    label: str
    usd_per_hour: Decimal
    per_core: bool = False
    kind: str = "cpu"  # "cpu" or "cuda": a rate prices only hardware of its kind
    # Whole words of a device name this rate prices ("H100" matches "NVIDIA H100 80GB HBM3", not
    # "H1000"); the CPU rate has none and prices any CPU.
    match: tuple[str, ...] = field(default=())

    def prices(self, hardware: Hardware) -> bool:
        if hardware.kind != self.kind:
            return False
        if not self.match:
            return hardware.kind == "cpu"
        return any(re.search(rf"\b{re.escape(word)}\b", hardware.name, re.IGNORECASE) for word in self.match)


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

    def __init__(
        self,
        models: dict[str, TokenPrice],
        devices: dict[str, DeviceRate],
        *,
        utilisation: Decimal = Decimal(1),
    ):
        if not 0 < utilisation <= 1:
            raise PricingError(f"utilisation must lie in (0, 1], got {utilisation}")
        self.models = models
        self.devices = devices
        self.utilisation = utilisation  # 1: pay per busy second (shared hardware)

    @classmethod
    def load(cls, user_file: Path | None = None, *, utilisation: Decimal = Decimal(1)) -> PriceBook:
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
                kind = str(entry.get("kind", "cpu"))
                if kind not in ("cpu", "cuda"):
                    raise PricingError(f"devices.{name}.kind: use cpu or cuda, not {kind!r}")
                devices[name] = DeviceRate(
                    label=str(entry.get("label", name)),
                    usd_per_hour=_decimal(entry.get("usd_per_hour"), f"devices.{name}.usd_per_hour"),
                    per_core=bool(entry.get("per_core", False)),
                    kind=kind,
                    match=tuple(str(word) for word in entry.get("match", ())),
                )
        return cls(models, devices, utilisation=utilisation)

    def rate_for(self, hardware: Hardware) -> tuple[str, DeviceRate] | None:
        """The rate that prices this hardware: a named match first, the generic CPU rate last."""
        named = [(key, rate) for key, rate in self.devices.items() if rate.match and rate.prices(hardware)]
        generic = [
            (key, rate) for key, rate in self.devices.items() if not rate.match and rate.prices(hardware)
        ]
        found = named or generic
        return found[0] if found else None

    def hardware_cost(self, hardware: Hardware, seconds: float) -> Cost:
        """Seconds on the hardware that ran, at the rate its name matches; unpriced when none does."""
        found = self.rate_for(hardware)
        if found is None:
            return unpriced(
                f'no rate for {hardware.label()}; add [devices.NAME] with kind = "{hardware.kind}" and '
                f'match = ["..."] to a KGFT_PRICES file'
            )
        _, rate = found
        cost = self._priced(rate, seconds, hardware.units if rate.per_core else 1)
        return cost.model_copy(update={"basis": f"{cost.basis} [{hardware.name}]"})

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
        """Local cost: measured wall seconds × the device's hourly rate (× cores for per-core rates).

        `device` is a rate's name, or "auto": this machine's CPU with `cores` threads.
        """
        if device == AUTO:
            return self.hardware_cost(cpu(cores), seconds)
        rate = self.devices.get(device)
        if rate is None:
            return unpriced(
                f"no hourly rate for device '{device}'; add [devices.{device}] to a KGFT_PRICES file"
            )
        return self._priced(rate, seconds, cores)

    def _priced(self, rate: DeviceRate, seconds: float, cores: int) -> Cost:
        # Price the exact measurement; only the basis text is rounded (sub-ms retrieval must not cost $0).
        secs = Decimal(repr(seconds))
        hourly = rate.usd_per_hour * (cores if rate.per_core else 1)
        usd = secs * hourly / _SECONDS_PER_HOUR / self.utilisation
        cores_text = "1 core" if cores == 1 else f"{cores} cores"
        what = (
            f"{rate.label}, {cores_text} × {money(rate.usd_per_hour)}/core-h" if rate.per_core else rate.label
        )
        busy = "" if self.utilisation == 1 else f" ÷ {_percent(self.utilisation)} utilisation (reserved)"
        return Cost(
            runtime_usd=usd.quantize(_USD_SCALE),
            basis=f"{_seconds_text(seconds)} s × {money(hourly)}/h{busy} ({what})",
            priced=True,
        )


def _percent(fraction: Decimal) -> str:
    return f"{format((fraction * 100).normalize(), 'f')}%"


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
