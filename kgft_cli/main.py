"""The `kgft` entry point: each part's own commands under one name. Every failure ends as one line.

Each part's `cli.py` imports its heavy dependencies (torch, FastAPI, the graph engines) inside its
commands, so `kgft --help` loads none of them.
"""

from __future__ import annotations

import os

import typer
from pydantic import ValidationError
from rich.markup import escape

from eval.cli import cost_app, eval_app, ledger_app
from ft_route.cli import ft_app
from gateway.cli import keys_app, serve
from kg_route.cli import ingest_app
from kgft.cli import ask_route, llm
from kgft.cli_context import Context, err
from kgft.errors import KgftError
from kgft_cli.demo import demo
from kgft_cli.freshness import freshness

app = typer.Typer(
    help="kgft: knowledge graph + base model vs. domain fine-tuning, with accuracy and full cost measured.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(llm)
app.command("ask")(ask_route)
app.command()(demo)
app.add_typer(ingest_app, name="ingest")
app.add_typer(ft_app, name="ft")
app.add_typer(keys_app, name="keys")
app.command("serve")(serve)
eval_app.command("freshness")(freshness)
app.add_typer(eval_app, name="eval")
app.add_typer(ledger_app, name="ledger")
app.add_typer(cost_app, name="cost")


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = Context()


def main() -> None:
    """Entry point: turn every error into one line, unless KGFT_DEBUG asks for the traceback."""
    try:
        app()
    except KgftError as exc:
        _fail(str(exc))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "input"
        _fail(f"invalid {where}: {first['msg']}")
    except KeyboardInterrupt:
        _fail("interrupted", code=130)
    except Exception as exc:
        if os.environ.get("KGFT_DEBUG"):
            raise
        _fail(f"unexpected {type(exc).__name__}: {exc} (set KGFT_DEBUG=1 for a traceback)")


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/bold red] {escape(message)}", markup=True, highlight=False, soft_wrap=True)
    raise SystemExit(code)
