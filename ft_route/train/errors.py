"""How training reports a stop: one error class every stage raises, so the caller catches one thing and the
ledger records one line."""

from __future__ import annotations

from kgft.errors import KgftError


class TrainingError(KgftError):
    """A training run stopped: the loss diverged, a checkpoint does not fit, or the loop failed."""
