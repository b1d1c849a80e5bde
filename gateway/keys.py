"""API keys: only their sha256 is stored, so a leaked keys file opens nothing.

Keys are long random strings, so an unsalted sha256 is enough and lets a request be checked with one
dict lookup. The file is JSON under KGFT_HOME, written atomically and readable by its owner only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

from kgft.errors import KgftError

KEY_PREFIX = "kgft-"
_RELOAD_EVERY_S = 1.0  # a key created or revoked while the gateway runs counts within a second


@dataclass(frozen=True)
class ApiKey:
    name: str
    sha256: str
    rpm: int  # requests per minute
    budget_usd: Decimal  # per calendar month (UTC)
    created: str


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyFile:
    """The keys file as the `kgft keys` commands edit it."""

    def __init__(self, path: Path):
        self.path = path

    def load(self) -> dict[str, ApiKey]:
        """Keys by name; no file means no keys yet."""
        try:
            raw = json.loads(self.path.read_text("utf-8"))
            return {
                entry["name"]: ApiKey(
                    name=entry["name"],
                    sha256=entry["sha256"],
                    rpm=int(entry["rpm"]),
                    budget_usd=Decimal(entry["budget_usd"]),
                    created=entry["created"],
                )
                for entry in raw["keys"]
            }
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, TypeError, InvalidOperation) as exc:
            raise KgftError(f"keys file {self.path} is unreadable ({exc}); fix or delete it") from exc

    def create(self, name: str, rpm: int, budget_usd: Decimal) -> str:
        """Stores the new key's hash and returns the key itself: the only time anyone sees it."""
        if not name.strip() or len(name) > 100:
            raise KgftError("a key name must be 1 to 100 characters")
        if rpm < 1:
            raise KgftError(f"--rpm must be at least 1, got {rpm}")
        if not budget_usd.is_finite() or budget_usd <= 0:
            raise KgftError(f"--budget-usd must be a positive amount, got {budget_usd}")
        keys = self.load()
        if name in keys:
            raise KgftError(f"a key named '{name}' exists; revoke it first or pick another name")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        created = datetime.now(UTC).isoformat(timespec="seconds")
        keys[name] = ApiKey(name, hash_key(key), rpm, budget_usd, created)
        self._save(keys)
        return key

    def revoke(self, name: str) -> None:
        keys = self.load()
        if keys.pop(name, None) is None:
            raise KgftError(f"no key named '{name}'; `kgft keys list` shows them")
        self._save(keys)

    def _save(self, keys: dict[str, ApiKey]) -> None:
        entries = [asdict(key) | {"budget_usd": format(key.budget_usd, "f")} for key in keys.values()]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        staging = self.path.with_suffix(".tmp")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"keys": entries}, handle, indent=2)
        os.replace(staging, self.path)


class KeyRing:
    """The gateway's view of the keys file: a hash lookup, re-read when the file changes."""

    def __init__(self, keys: KeyFile):
        self._file = keys
        self._by_hash: dict[str, ApiKey] = {}
        self._stamp: tuple[int, int] | None = None
        self._checked_at = float("-inf")
        self._reload()

    def find(self, key: str) -> ApiKey | None:
        now = time.monotonic()
        if now - self._checked_at >= _RELOAD_EVERY_S:
            self._checked_at = now
            with contextlib.suppress(KgftError):  # a half-edited file keeps the keys last read
                self._reload()
        return self._by_hash.get(hash_key(key))

    def _reload(self) -> None:
        try:
            stat = self._file.path.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp != self._stamp:
            self._by_hash = {key.sha256: key for key in self._file.load().values()}
            self._stamp = stamp
