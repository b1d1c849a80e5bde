"""The results store on real engines: SQLite in a tmp dir, and the PostgreSQL server `.ci/run` starts."""

from __future__ import annotations

import os
import threading
import uuid
from decimal import Decimal

import pytest
import sqlalchemy as sa

from kgft.results_store import ResultRow, ResultStore, StoreError

# scripts/start_postgres.sh makes this role and database; PG_TEST_URL points elsewhere.
POSTGRES_URL = os.environ.get("PG_TEST_URL", "postgresql+psycopg://kgft:kgft@127.0.0.1:5432/kgft_test")


def _postgres_reason() -> str | None:
    try:
        engine = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 2})
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return (
            f"no PostgreSQL answers at {POSTGRES_URL} (run scripts/start_postgres.sh): {type(exc).__name__}"
        )
    return None


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kgft.db'}"
    else:
        reason = _postgres_reason()
        if reason:
            pytest.skip(reason)
        url = POSTGRES_URL
    opened = ResultStore(url)
    yield opened
    opened.close()


def _row(run_id: str, item_id: str, route: str = "kg", **extra) -> ResultRow:
    values = {
        "question": f"问题 {item_id}",
        "answer_text": "答案",
        "runtime_cost_usd": Decimal("0.000000123"),
    }
    return ResultRow(run_id=run_id, item_id=item_id, route=route, **(values | extra))


def test_rows_round_trip_exactly_and_duplicates_are_refused(store):
    run = f"t-{uuid.uuid4().hex}"
    store.create_run(run, "lexeval-1_2", ["kg", "ft"], {"limit": 3})
    first = _row(
        run, "1", citations=[{"id": "刑法:232", "text": "故意杀人的……", "source": "刑法"}], correct=True
    )

    assert store.record(first) is True
    assert store.record(first) is False
    assert (
        store.record_many([_row(run, "1"), _row(run, "2"), _row(run, "2"), _row(run, "1", route="ft")]) == 2
    )

    rows = store.rows(run)
    assert [(row.item_id, row.route) for row in rows] == [("1", "kg"), ("2", "kg"), ("1", "ft")]
    assert rows[0] == first
    assert rows[0].runtime_cost_usd == Decimal("0.000000123")
    assert store.done_keys(run) == {("1", "kg"), ("2", "kg"), ("1", "ft")}
    assert store.run_info(run)["routes"] == ["kg", "ft"]


def test_feedback_labels_live_rows_and_unknown_ids_are_refused(store):
    run = f"live-{uuid.uuid4().hex}"
    response = f"resp-{uuid.uuid4().hex}"
    store.record(_row(run, response, source="live", response_id=response))

    assert store.rows(run)[0].correct is None
    assert store.record_feedback(response, correct=None, rating=4) is True
    assert store.rows(run)[0].correct is None  # a rating alone does not say right or wrong
    assert store.record_feedback(response, correct=False, rating=None) is True
    assert store.rows(run)[0].correct is False
    assert store.record_feedback("no-such-response", correct=True, rating=None) is False


def test_concurrent_writers_never_duplicate_a_row(store):
    run = f"race-{uuid.uuid4().hex}"
    rows = [_row(run, str(index)) for index in range(40)]
    written: list[int] = []

    def writer() -> None:
        written.append(sum(store.record(row) for row in rows))

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(written) == 40
    assert len(store.rows(run)) == 40


def test_an_unreachable_store_is_one_clear_error(tmp_path):
    with pytest.raises(StoreError, match="cannot open the results store"):
        ResultStore("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=1")
    with pytest.raises(StoreError) as raised:
        ResultStore("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=1")
    assert "secret" not in str(raised.value)


def test_a_store_opened_while_another_process_creates_its_tables_still_opens(tmp_path):
    """The race `kgft serve` and `kgft eval run` run into on a new home: the table appears between
    create_all's look and its CREATE."""
    from kgft import results_store

    url = f"sqlite:///{tmp_path / 'kgft.db'}"

    def the_other_process_wins(target, connection, **_):
        other = sa.create_engine(url)
        with other.begin() as rival:
            target.create(rival)
        other.dispose()

    sa.event.listen(results_store.results, "before_create", the_other_process_wins, once=True)
    try:
        store = ResultStore(url)
    finally:
        if sa.event.contains(results_store.results, "before_create", the_other_process_wins):
            sa.event.remove(results_store.results, "before_create", the_other_process_wins)
    assert store.rows("nothing-yet") == []
