"""`kgft serve` and `kgft keys`: run the gateway, and manage the API keys it accepts.

FastAPI and uvicorn are imported inside `serve`, so other commands start fast.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gateway.keys import KeyTable
from kgft.cli_context import Context, err
from kgft.errors import KgftError
from kgft.results_store import ResultStore
from kgft.settings import Settings

keys_app = typer.Typer(help="API keys for `kgft serve`: stored hashed in the results store, shown once.")


@contextmanager
def _key_table(settings: Settings) -> Iterator[KeyTable]:
    """The keys table of the results store every gateway reads (an older keys.json moves into it)."""
    store = ResultStore(settings.store_url)
    try:
        table = KeyTable(store.engine)
        table.import_file(settings.keys_path)
        yield table
    finally:
        store.close()


@keys_app.command("create")
def keys_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="who the key is for, e.g. legal-app")],
    rpm: Annotated[int, typer.Option(min=1, help="requests per minute")] = 60,
    budget_usd: Annotated[
        str, typer.Option(help="runtime spend allowed per calendar month (UTC), USD")
    ] = "50",
) -> None:
    """Create a key and print it once: only its sha256 is kept."""
    context: Context = ctx.obj
    try:
        budget = Decimal(budget_usd)
    except InvalidOperation as exc:
        raise KgftError(f"--budget-usd '{budget_usd}' is not an amount, e.g. 50 or 12.5") from exc
    with _key_table(context.settings) as table:
        key = table.create(name, rpm, budget)
    sys.stdout.write(key + "\n")
    err.print(f"key '{escape(name)}' created; copy it now, it is not shown again", highlight=False)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Names, limits and creation dates; never the keys themselves."""
    context: Context = ctx.obj
    with _key_table(context.settings) as key_table:
        keys = key_table.load()
    if not keys:
        err.print("no keys yet; create one with `kgft keys create NAME`", highlight=False)
        return
    table = Table("name", "rpm", "budget/month", "created", box=None, pad_edge=False)
    for key in keys.values():
        table.add_row(escape(key.name), str(key.rpm), f"${key.budget_usd:f}", key.created)
    err.print(table)


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, name: Annotated[str, typer.Argument(help="the key's name")]) -> None:
    """Delete a key; a running gateway refuses it within a second."""
    context: Context = ctx.obj
    with _key_table(context.settings) as table:
        table.revoke(name)
    err.print(f"key '{escape(name)}' revoked", highlight=False)


def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8765,
    routes: Annotated[
        str | None,
        typer.Option(help="routes to build, comma-separated, e.g. kg,ft (default: gateway_routes)"),
    ] = None,
    access_log: Annotated[bool, typer.Option(help="log every request line")] = False,
    workers: Annotated[
        int, typer.Option(min=1, help="processes; more than 1 needs a PostgreSQL results store (KGFT_DB_URL)")
    ] = 1,
) -> None:
    """Serve the routes behind the OpenAI-compatible chat API (uvloop/httptools if installed).

    Keys, rate limits and spend live in the results store; on PostgreSQL every worker and every host
    using it enforces one limit per key.
    """
    import uvicorn

    from gateway.app import create_app

    context: Context = ctx.obj
    settings = context.settings
    if routes is not None:
        names = [name.strip() for name in routes.split(",") if name.strip()]
        settings = settings.model_copy(update={"gateway_routes": names})
    if workers > 1 and settings.store_url.startswith("sqlite"):
        raise KgftError(
            f"--workers {workers} needs a results store the workers can share: set KGFT_DB_URL to a "
            "PostgreSQL database (SQLite's counters live in one process)"
        )
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call drowns the log
    app = create_app(settings, context.prices)  # configuration mistakes stop here, before any worker
    options = {"host": host, "port": port, "access_log": access_log, "timeout_graceful_shutdown": 30}
    if workers == 1:
        uvicorn.run(app, workers=1, **options)  # type: ignore[arg-type]
        return
    with tempfile.TemporaryDirectory(prefix="kgft-metrics-") as metrics_dir:
        # Workers are fresh interpreters: they read their settings, and prometheus_client its
        # multiprocess folder, from the environment they inherit.
        os.environ["KGFT_GATEWAY_ROUTES"] = json.dumps(settings.gateway_routes)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        factory = "gateway.app:app_from_env"
        uvicorn.run(factory, factory=True, workers=workers, **options)  # type: ignore[arg-type]
