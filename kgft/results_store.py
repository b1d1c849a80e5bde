"""The results store: one row per (run, item, route), shared by eval runs and live gateway traffic.

SQLite under KGFT_HOME by default, PostgreSQL when KGFT_DB_URL names one; SQLAlchemy Core keeps the
SQL the same on both. Rows are only ever inserted (a unique key refuses duplicates), so a killed run
resumes by asking which keys are done (an eval run's error rows are deleted to be answered again);
feedback lives in its own table and is joined on read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from kgft.errors import KgftError, first_line

LIVE_RUN = "live"  # the run id gateway traffic is logged under
_CREATE_ATTEMPTS = 3


class StoreError(KgftError):
    """The results store could not be opened or written."""


@dataclass(frozen=True)
class ResultRow:
    """One route's answer to one item. `correct` is None where nothing says (open answers, live traffic)."""

    run_id: str
    item_id: str
    route: str
    question: str
    answer_text: str
    runtime_cost_usd: Decimal
    priced: bool = True
    gold: str | None = None
    category: str = "all"
    choice: str | None = None
    correct: bool | None = None
    abstained: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    latency_ms: float = 0.0
    char_f1: float | None = None
    rouge_l: float | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    source: str = "eval"  # "eval", "live" (served by the gateway) or "shadow" (run beside, not served)
    response_id: str | None = None
    fallback_from: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="milliseconds"))


_metadata = sa.MetaData()

runs = sa.Table(
    "kgft_runs",
    _metadata,
    sa.Column("run_id", sa.String(200), primary_key=True),
    sa.Column("dataset", sa.String(500), nullable=False),
    sa.Column("routes", sa.Text, nullable=False),  # JSON list
    sa.Column("meta", sa.Text, nullable=False),  # JSON object
    sa.Column("created_at", sa.String(40), nullable=False),
)

results = sa.Table(
    "kgft_results",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.String(200), nullable=False),
    sa.Column("item_id", sa.String(200), nullable=False),
    sa.Column("route", sa.String(100), nullable=False),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer_text", sa.Text, nullable=False),
    # Exact decimal text: SQLite has no decimal type and money is never a float here.
    sa.Column("runtime_cost_usd", sa.String(40), nullable=False),
    sa.Column("priced", sa.Boolean, nullable=False),
    sa.Column("gold", sa.Text),
    sa.Column("category", sa.String(200), nullable=False),
    sa.Column("choice", sa.String(30)),
    sa.Column("correct", sa.Boolean),
    sa.Column("abstained", sa.Boolean, nullable=False),
    sa.Column("prompt_tokens", sa.Integer, nullable=False),
    sa.Column("completion_tokens", sa.Integer, nullable=False),
    sa.Column("reasoning_tokens", sa.Integer, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("char_f1", sa.Float),
    sa.Column("rouge_l", sa.Float),
    sa.Column("citations", sa.Text, nullable=False),  # JSON list
    sa.Column("error", sa.Text),
    sa.Column("source", sa.String(20), nullable=False),
    sa.Column("response_id", sa.String(100)),
    sa.Column("fallback_from", sa.String(100)),
    sa.Column("meta", sa.Text, nullable=False),  # JSON object
    sa.Column("at", sa.String(40), nullable=False),
    sa.UniqueConstraint("run_id", "item_id", "route", name="uq_kgft_result"),
    sa.Index("ix_kgft_results_response", "response_id"),
)

feedback = sa.Table(
    "kgft_feedback",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("response_id", sa.String(100), nullable=False, index=True),
    sa.Column("correct", sa.Boolean),
    sa.Column("rating", sa.Integer),
    sa.Column("at", sa.String(40), nullable=False),
)

_JSON_COLUMNS = ("citations", "meta")


class ResultStore:
    """Append-only rows keyed (run_id, item_id, route); safe to share between threads of one process."""

    def __init__(self, url: str):
        self.url = url
        try:
            self.engine = sa.create_engine(url, pool_pre_ping=True, **_engine_options(url))
            _create_tables(self.engine)
        except (SQLAlchemyError, ImportError) as exc:
            where = _redacted(url)
            raise StoreError(f"cannot open the results store at {where}: {first_line(exc)}") from exc

    def create_run(self, run_id: str, dataset: str, routes: Sequence[str], meta: dict[str, Any]) -> None:
        """Registers a run once; a resumed run keeps its first registration."""
        row = {
            "run_id": run_id,
            "dataset": dataset,
            "routes": json.dumps(list(routes)),
            "meta": json.dumps(meta, ensure_ascii=False, default=str),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        try:
            with self.engine.begin() as connection:
                connection.execute(runs.insert(), row)
        except IntegrityError:
            return
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to the results store: {first_line(exc)}") from exc

    def run_info(self, run_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as connection:
            found = connection.execute(runs.select().where(runs.c.run_id == run_id)).mappings().first()
        if found is None:
            return None
        return dict(found) | {"routes": json.loads(found["routes"]), "meta": json.loads(found["meta"])}

    def record(self, row: ResultRow) -> bool:
        """False when the (run, item, route) row already exists: resuming never duplicates."""
        return self.record_many([row]) == 1

    def record_many(self, rows: Iterable[ResultRow]) -> int:
        """Inserts each new row in one transaction; returns how many were new."""
        values = [_to_db(row) for row in rows]
        if not values:
            return 0
        try:
            with self.engine.begin() as connection:
                done = _existing_keys(connection, values)
                fresh, seen = [], set(done)
                for value in values:
                    key = (value["run_id"], value["item_id"], value["route"])
                    if key not in seen:
                        seen.add(key)
                        fresh.append(value)
                if fresh:
                    connection.execute(results.insert(), fresh)
        except IntegrityError:
            # A concurrent writer won the race on some key: fall back to one row at a time.
            return sum(self._insert_one(value) for value in values)
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to the results store: {first_line(exc)}") from exc
        return len(fresh)

    def _insert_one(self, value: dict[str, Any]) -> int:
        try:
            with self.engine.begin() as connection:
                connection.execute(results.insert(), value)
        except IntegrityError:
            return 0
        return 1

    def done_keys(self, run_id: str) -> set[tuple[str, str]]:
        """(item_id, route) pairs already answered in this run."""
        query = sa.select(results.c.item_id, results.c.route).where(results.c.run_id == run_id)
        with self.engine.connect() as connection:
            return {(item_id, route) for item_id, route in connection.execute(query)}

    def take_errors(self, run_id: str) -> dict[tuple[str, str], str]:
        """Deletes the run's error rows so a resumed run answers them again; returns (item, route) →
        the error each recorded. The one exception to append-only: an error row holds no answer."""
        where = sa.and_(results.c.run_id == run_id, results.c.error.is_not(None))
        try:
            with self.engine.begin() as connection:
                found = connection.execute(
                    sa.select(results.c.item_id, results.c.route, results.c.error).where(where)
                )
                errors = {(item_id, route): error for item_id, route, error in found}
                connection.execute(results.delete().where(where))
        except SQLAlchemyError as exc:
            raise StoreError(f"cannot write to the results store: {first_line(exc)}") from exc
        return errors

    def rows(self, run_id: str) -> list[ResultRow]:
        """Every row of a run in insertion order, with feedback's verdict where the row had none."""
        verdicts = self._feedback_verdicts()
        query = results.select().where(results.c.run_id == run_id).order_by(results.c.id)
        with self.engine.connect() as connection:
            found = [_from_db(dict(mapping)) for mapping in connection.execute(query).mappings()]
        return [
            replace(row, correct=verdicts[row.response_id])
            if row.correct is None and row.response_id in verdicts
            else row
            for row in found
        ]

    def record_feedback(
        self, response_id: str, correct: bool | None, rating: int | None, *, owner: str | None = None
    ) -> bool:
        """False when no logged response has this id, or `owner` names another API key than the one
        the response was served to (the caller answers 404 either way, revealing nothing)."""
        with self.engine.begin() as connection:
            known = connection.execute(
                sa.select(results.c.meta).where(results.c.response_id == response_id).limit(1)
            ).first()
            if known is None:
                return False
            if owner is not None and json.loads(known.meta).get("key") != owner:
                return False
            connection.execute(
                feedback.insert(),
                {
                    "response_id": response_id,
                    "correct": correct,
                    "rating": rating,
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                },
            )
        return True

    def _feedback_verdicts(self) -> dict[str, bool]:
        """The latest explicit correct/incorrect per response; ratings alone don't decide correctness."""
        query = (
            sa.select(feedback.c.response_id, feedback.c.correct)
            .where(feedback.c.correct.is_not(None))
            .order_by(feedback.c.id)
        )
        with self.engine.connect() as connection:
            return {response_id: bool(correct) for response_id, correct in connection.execute(query)}

    def ping(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
        except (SQLAlchemyError, OperationalError) as exc:
            raise StoreError(f"the results store at {_redacted(self.url)} is unreachable") from exc

    def close(self) -> None:
        self.engine.dispose()


def _create_tables(engine: sa.Engine) -> None:
    """Two processes opening a new store at once (`kgft serve` and `kgft eval run`) race between
    create_all's look and its CREATE; the loser finds the winner's tables when it looks again."""
    for attempt in range(_CREATE_ATTEMPTS):
        try:
            _metadata.create_all(engine)
            return
        except sa.exc.DBAPIError:
            # Only the race is worth another look: an unreachable server fails at once.
            if attempt == _CREATE_ATTEMPTS - 1 or not sa.inspect(engine).has_table(results.name):
                raise


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Threads of one process share the file; a busy timeout rides out the other writer's commit.
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {}


def _existing_keys(connection: sa.Connection, values: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    run_ids = {value["run_id"] for value in values}
    item_ids = {value["item_id"] for value in values}
    query = sa.select(results.c.run_id, results.c.item_id, results.c.route).where(
        results.c.run_id.in_(run_ids), results.c.item_id.in_(item_ids)
    )
    return {tuple(key) for key in connection.execute(query)}  # type: ignore[misc]


def _to_db(row: ResultRow) -> dict[str, Any]:
    value = {name: getattr(row, name) for name in ResultRow.__dataclass_fields__}
    value["runtime_cost_usd"] = format(row.runtime_cost_usd, "f")
    for name in _JSON_COLUMNS:
        value[name] = json.dumps(value[name], ensure_ascii=False, default=str)
    return value


def _from_db(value: dict[str, Any]) -> ResultRow:
    value.pop("id")
    value["runtime_cost_usd"] = Decimal(value["runtime_cost_usd"])
    for name in _JSON_COLUMNS:
        value[name] = json.loads(value[name])
    return ResultRow(**value)


def _redacted(url: str) -> str:
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable url>"
