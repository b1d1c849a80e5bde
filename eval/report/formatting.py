"""How figures read in the HTML and Markdown reports; one set of rules so both show the same numbers."""

from __future__ import annotations

from decimal import Decimal

USD_SIGNIFICANT = 3  # per-query costs span $0.000001 to $1; three figures keep each readable


def usd(amount: str | Decimal | None) -> str:
    """'0.0041666667' → '$0.00417'; large sums get cents and thousands separators."""
    if amount is None:
        return "—"
    value = Decimal(amount)
    sign, value = ("-" if value < 0 else ""), abs(value)
    if value == 0:
        return "$0"
    if value >= 1:
        return f"{sign}${value:,.2f}"
    places = max(2, USD_SIGNIFICANT - 1 - value.adjusted())
    whole, fraction = f"{value:.{places}f}".split(".")
    return f"{sign}${whole}.{fraction.rstrip('0').ljust(2, '0')}"


def pct(fraction: float | None, *, signed: bool = False) -> str:
    if fraction is None:
        return "—"
    return f"{fraction * 100:+.1f}%" if signed else f"{fraction * 100:.1f}%"


def pts(fraction: float | None) -> str:
    """An accuracy difference in percentage points, always signed."""
    return "—" if fraction is None else f"{fraction * 100:+.1f} pts"


def ci(pair: list[float] | None, *, points: bool = False) -> str:
    if pair is None:
        return "—"
    low, high = pair
    if points:
        return f"{low * 100:+.1f} to {high * 100:+.1f} pts"
    return f"{low * 100:.1f}–{high * 100:.1f}%"


def usd_ci(pair: list[str] | None) -> str:
    return "—" if pair is None else f"{usd(pair[0])} to {usd(pair[1])}"


def ms(value: float | None) -> str:
    return "—" if value is None else f"{value:,.0f} ms"


def p_value(p: float | None) -> str:
    if p is None:
        return "—"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def volume(queries: str | Decimal | int | None) -> str:
    """A monthly query volume, whole queries with thousands separators."""
    if queries is None:
        return "none: one route costs less or the same at every volume"
    return f"{Decimal(queries).to_integral_value():,}"
