"""Graph store failures, reported to a user as one line like every other kgft error."""

from kgft.errors import KgftError


class GraphStoreError(KgftError):
    """A graph store URL is malformed, its engine cannot be reached, or a batch was refused."""


def first_line(exc: BaseException) -> str:
    """Engines answer with multi-line errors (Java traces, driver notes); a user needs the first line."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
