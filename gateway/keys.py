"""API keys: only their sha256 is stored, in the results database, so every worker and host sees one set.

Keys are long random strings, so an unsalted sha256 is enough and lets a request be checked with one
dict lookup. A revoked key keeps its row (revoked_at set), so a revocation is a change others can see.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import anyio.to_thread
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from gateway.state_tables import api_keys, create_gateway_tables
from kgft.errors import KgftError, first_line

KEY_PREFIX = "kgft-"
_RELOAD_EVERY_S = 1.0  # a key created or revoked on any host counts everywhere within a second
MISS_LOOKUPS = 4  # unknown keys looked up at once per process


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str
    rpm: int  # requests per minute
    budget_usd: Decimal  # per calendar month (UTC)
    created: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class KeyTable:
    """The keys table as the `kgft keys` commands edit it."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        create_gateway_tables(engine)

    def load(self) -> dict[str, ApiKey]:
        """Live keys by name."""
        return {key.name: key for key in self._live()}

    def live_key(self, sha256: str) -> ApiKey | None:
        """The live key with this hash: one indexed lookup, for a key made since the last full read."""
        found = self._live(api_keys.c.sha256 == sha256)
        return found[0] if found else None

    def _live(self, *where: sa.ColumnElement[bool]) -> list[ApiKey]:
        query = sa.select(api_keys).where(api_keys.c.revoked_at.is_(None), *where)
        try:
            with self.engine.connect() as connection:
                rows = connection.execute(query).mappings().all()
        except SQLAlchemyError as exc:
            raise KgftError(f"cannot read API keys from the results store: {first_line(exc)}") from exc
        return [
            ApiKey(row["name"], row["sha256"], row["rpm"], Decimal(row["budget_usd"]), row["created"])
            for row in rows
        ]

    def create(self, name: str, rpm: int, budget_usd: Decimal) -> str:
        """Stores the new key's hash and returns the key itself: the only time anyone sees it."""
        if not name.strip() or len(name) > 100:
            raise KgftError("a key name must be 1 to 100 characters")
        if rpm < 1:
            raise KgftError(f"--rpm must be at least 1, got {rpm}")
        if not budget_usd.is_finite() or budget_usd <= 0:
            raise KgftError(f"--budget-usd must be a positive amount, got {budget_usd}")
        if name in self.load():
            raise KgftError(f"a key named '{name}' exists; revoke it first or pick another name")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        self._insert(ApiKey(name, hash_key(key), rpm, budget_usd, _now()))
        return key

    def revoke(self, name: str) -> None:
        update = (
            api_keys.update()
            .where(api_keys.c.name == name, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=_now())
        )
        with self.engine.begin() as connection:
            if connection.execute(update).rowcount == 0:
                raise KgftError(f"no key named '{name}'; `kgft keys list` shows them")

    def import_file(self, path: Path) -> int:
        """Moves the keys of an older kgft's keys.json into the table (once: the file is renamed)."""
        try:
            entries = json.loads(path.read_text("utf-8"))["keys"]
            keys = [
                ApiKey(e["name"], e["sha256"], int(e["rpm"]), Decimal(e["budget_usd"]), e["created"])
                for e in entries
            ]
        except FileNotFoundError:
            return 0
        except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise KgftError(f"keys file {path} is unreadable ({exc}); fix or delete it") from exc
        live = self.load()
        fresh = [key for key in keys if key.name not in live]
        for key in fresh:
            self._insert(key)
        path.rename(path.with_name(path.name + ".imported"))
        return len(fresh)

    def _insert(self, key: ApiKey) -> None:
        row = {
            "sha256": key.sha256,
            "name": key.name,
            "rpm": key.rpm,
            "budget_usd": format(key.budget_usd, "f"),
            "created": key.created,
        }
        with self.engine.begin() as connection:
            connection.execute(api_keys.insert(), row)


class KeyRing:
    """The gateway's view of the keys table. Every database read runs in a worker thread, so a read
    never stalls the event loop's other requests.

    A hit is one dict lookup. A request more than a second after the last read waits for a fresh one
    (requests at once share it), so a key revoked on any host is refused everywhere within a second. A
    miss looks up its hash (one indexed query), so a key created since the last read works on its first
    request; at most MISS_LOOKUPS run at once, and a miss beyond them is refused without a lookup, so a
    flood of made-up keys costs a few threads, not the database.
    """

    def __init__(self, keys: KeyTable):
        self._table = keys
        self._by_hash = self._read()
        self._read_at = time.monotonic()
        self._reading = threading.Lock()
        self._lookups = threading.BoundedSemaphore(MISS_LOOKUPS)

    async def find(self, key: str) -> ApiKey | None:
        digest = hash_key(key)
        if time.monotonic() - self._read_at >= _RELOAD_EVERY_S:
            await anyio.to_thread.run_sync(self._read_if_stale)
        found = self._by_hash.get(digest)
        if found is None and self._lookups.acquire(blocking=False):
            try:
                found = await anyio.to_thread.run_sync(self._look_up, digest)
            finally:
                self._lookups.release()
        return found

    def _read_if_stale(self) -> None:
        with self._reading:
            if time.monotonic() - self._read_at < _RELOAD_EVERY_S:
                return  # read by the request this one waited behind
            started = time.monotonic()
            # With the database away, the keys last read stand: the counters refuse with 503 anyway.
            with contextlib.suppress(KgftError):
                self._by_hash = self._read()
            self._read_at = started

    def _look_up(self, digest: str) -> ApiKey | None:
        with contextlib.suppress(KgftError):
            found = self._table.live_key(digest)
            if found is not None:
                self._by_hash = {**self._by_hash, digest: found}
                return found
        return None

    def _read(self) -> dict[str, ApiKey]:
        return {key.sha256: key for key in self._table.load().values()}
