"""`kgft serve` and `kgft keys`: run the gateway, and manage the API keys it accepts.

FastAPI and uvicorn are imported inside `serve`, so other commands start fast.
"""

from __future__ import annotations

import logging
import sys
from decimal import Decimal, InvalidOperation
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from gateway.keys import KeyFile
from kgft.cli_context import Context, err
from kgft.errors import KgftError

keys_app = typer.Typer(help="API keys for `kgft serve`: stored hashed under KGFT_HOME, shown once.")


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
    key = KeyFile(context.settings.keys_path).create(name, rpm, budget)
    sys.stdout.write(key + "\n")
    err.print(f"key '{escape(name)}' created; copy it now, it is not shown again", highlight=False)


@keys_app.command("list")
def keys_list(ctx: typer.Context) -> None:
    """Names, limits and creation dates; never the keys themselves."""
    context: Context = ctx.obj
    keys = KeyFile(context.settings.keys_path).load()
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
    KeyFile(context.settings.keys_path).revoke(name)
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
) -> None:
    """Serve the routes behind the OpenAI-compatible chat API (one worker; uvloop/httptools if installed)."""
    import uvicorn

    from gateway.app import create_app

    context: Context = ctx.obj
    settings = context.settings
    if routes is not None:
        names = [name.strip() for name in routes.split(",") if name.strip()]
        settings = settings.model_copy(update={"gateway_routes": names})
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per upstream call drowns the log
    app = create_app(settings, context.prices)
    uvicorn.run(app, host=host, port=port, workers=1, access_log=access_log, timeout_graceful_shutdown=30)
