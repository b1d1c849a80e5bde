"""Paired statistics: both routes answer the same items, so differences are resampled item by item.

Pairing removes the between-item variance (some questions are hard for every model), which makes the
intervals far narrower than comparing two independent accuracies would.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

# Resamples drawn per block: bounds memory at ~8 MB of indices whatever the item count.
_BLOCK_CELLS = 1_000_000
# Assumed share of items the two routes answer differently when a run gives none usable. It is an
# assumption, not a measurement, so sample_size_line prints it; a larger share needs more items.
DEFAULT_DISCORDANT = 0.25


@dataclass(frozen=True)
class Interval:
    estimate: float
    low: float
    high: float


def _as_array(values: Sequence[float] | Sequence[bool], name: str) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != 1 or array.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of numbers")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} holds NaN or infinite values")
    return array


def _paired(a: Sequence[float] | Sequence[bool], b: Sequence[float] | Sequence[bool]) -> np.ndarray:
    first, second = _as_array(a, "a"), _as_array(b, "b")
    if first.size != second.size:
        raise ValueError(f"paired samples differ in length: {first.size} vs {second.size}")
    return first - second


def _bootstrap(values: np.ndarray, resamples: int, seed: int) -> Interval:
    """Percentile 95% interval of the mean."""
    low, high = np.percentile(_bootstrap_means(values, resamples, seed), [2.5, 97.5])
    return Interval(estimate=float(values.mean()), low=float(low), high=float(high))


def _bootstrap_means(values: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """Means of resamples drawn in blocks, so memory stays flat."""
    if resamples < 1:
        raise ValueError("resamples must be at least 1")
    rng = np.random.default_rng(seed)
    n = values.size
    block = max(1, _BLOCK_CELLS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, block):
        count = min(block, resamples - start)
        means[start : start + count] = values[rng.integers(0, n, size=(count, n))].mean(axis=1)
    return means


def paired_bootstrap_diff(
    a: Sequence[bool], b: Sequence[bool], *, resamples: int = 10_000, seed: int = 0
) -> Interval:
    """Accuracy(a) − accuracy(b) with a 95% CI, resampling items jointly so each keeps its pair."""
    return _bootstrap(_paired(a, b), resamples, seed)


def paired_mean_diff(
    a: Sequence[float], b: Sequence[float], *, resamples: int = 10_000, seed: int = 0
) -> Interval:
    """Mean(a) − mean(b) of per-item costs or latencies; float USD is fine here, never for sums of money."""
    return _bootstrap(_paired(a, b), resamples, seed)


def mean_interval(values: Sequence[float], *, resamples: int = 10_000, seed: int = 0) -> Interval:
    """One route's mean with a 95% CI; pass 0/1 for an accuracy."""
    return _bootstrap(_as_array(values, "values"), resamples, seed)


def unpaired_bootstrap_diff(
    a: Sequence[bool], b: Sequence[bool], *, resamples: int = 10_000, seed: int = 0
) -> Interval:
    """Accuracy(a) − accuracy(b) when the routes answered different items (live A/B arms).

    Each group is resampled on its own, so the interval is wider than a paired one on as many items.
    """
    first, second = _as_array(a, "a"), _as_array(b, "b")
    if first.size == 0 or second.size == 0:
        raise ValueError("both groups need at least one item")
    first_means = _bootstrap_means(first, resamples, seed)
    second_means = _bootstrap_means(second, resamples, seed + 1)
    low, high = np.percentile(first_means - second_means, [2.5, 97.5])
    return Interval(estimate=float(first.mean() - second.mean()), low=float(low), high=float(high))


def fisher_exact_p(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Two-sided Fisher exact test on two independent groups' right/wrong counts."""
    first, second = _as_array(a, "a").astype(bool), _as_array(b, "b").astype(bool)
    table = [[int(first.sum()), int((~first).sum())], [int(second.sum()), int((~second).sum())]]
    return float(stats.fisher_exact(table).pvalue)


def mcnemar_exact_p(a: Sequence[bool], b: Sequence[bool]) -> float:
    """Two-sided exact binomial test on discordant pairs; items both got right or wrong carry no signal."""
    first, second = _as_array(a, "a").astype(bool), _as_array(b, "b").astype(bool)
    if first.size != second.size:
        raise ValueError(f"paired samples differ in length: {first.size} vs {second.size}")
    only_a = int(np.sum(first & ~second))
    only_b = int(np.sum(~first & second))
    discordant = only_a + only_b
    if discordant == 0:
        return 1.0
    return min(1.0, 2.0 * float(stats.binom.cdf(min(only_a, only_b), discordant, 0.5)))


def percentiles(values: Sequence[float], qs: Sequence[float] = (50, 95, 99)) -> dict[str, float]:
    """{"p50": ..., "p95": ..., "p99": ...} by linear interpolation, numpy's default."""
    array = _as_array(values, "values")
    return {f"p{q:g}": float(np.percentile(array, q)) for q in qs}


def _check_unit(name: str, value: float) -> None:
    if not 0 < value < 1:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value}")


def _discordant_or_default(diff: float, discordant: float | None) -> float:
    return DEFAULT_DISCORDANT if discordant is None or discordant < diff else discordant


def paired_sample_size(
    diff: float = 0.03, discordant: float | None = None, *, alpha: float = 0.05, power: float = 0.80
) -> int:
    """Items needed for McNemar to detect an accuracy difference `diff` (Connor 1987, Biometrics 43:207).

    n = (z_{1-α/2}·√ψ + z_{power}·√(ψ − δ²))² / δ², ψ the share of discordant items, δ the difference.
    `discordant` below `diff` cannot happen (every difference is a discordant item), so it and None fall
    back to DEFAULT_DISCORDANT.
    """
    _check_unit("diff", abs(diff))
    _check_unit("alpha", alpha)
    _check_unit("power", power)
    delta = abs(diff)
    psi = _discordant_or_default(delta, discordant)
    if psi > 1:
        raise ValueError(f"discordant must be a proportion, got {psi}")
    z_alpha, z_power = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    n = (z_alpha * math.sqrt(psi) + z_power * math.sqrt(psi - delta**2)) ** 2 / delta**2
    return math.ceil(n)


def sample_size_line(
    n_items: int,
    diff: float = 0.03,
    discordant: float | None = None,
    *,
    alpha: float = 0.05,
    power: float = 0.80,
) -> str:
    """The report's one-sentence answer to "is this run big enough?", with the assumption it rests on."""
    needed = paired_sample_size(diff, discordant, alpha=alpha, power=power)
    psi = _discordant_or_default(abs(diff), discordant)
    source = "seen in this run" if psi == discordant else "assumed"
    return (
        f"To detect a {abs(diff) * 100:g}-point difference at {power * 100:g}% power (α={alpha:g}), "
        f"about {needed:,} paired items are needed ({psi * 100:.0f}% discordant pairs, {source}); "
        f"this run has {n_items:,}."
    )
