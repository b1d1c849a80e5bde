"""API keys for gateway tests, in the store `tests.gateway_fakes.make_app` gives the app under a home."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from gateway.keys import KeyTable


def key_table(home: Path) -> KeyTable:
    return KeyTable(sa.create_engine(f"sqlite:///{home / 'results.db'}"))
