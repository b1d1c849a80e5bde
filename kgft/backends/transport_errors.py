"""The one-line errors every HTTP client of a backend gives, so sync and event-loop calls read alike."""

from __future__ import annotations

from kgft.errors import BackendUnavailableError


def timed_out(base_url: str, timeout_s: float) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"{base_url} did not answer within {timeout_s:g} s; raise KGFT_TIMEOUT_S if it is slow"
    )


def unreachable(base_url: str, reason: str) -> BackendUnavailableError:
    return BackendUnavailableError(f"cannot reach {base_url}: {reason}")


def broke_off(base_url: str, reason: str) -> BackendUnavailableError:
    return BackendUnavailableError(f"{base_url} broke off the exchange: {reason}")
