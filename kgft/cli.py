"""The `kgft` command line. Every failure ends as one line on stderr and a non-zero exit."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from eval.cli import eval_app, ledger_app
from ft_route.cli import ft_app
from gateway.cli import keys_app, serve
from kg_route.cli import ingest_app
from kgft.answers import ask
from kgft.backends import create_backend
from kgft.cli_context import Context, err
from kgft.contract import Answer, Question
from kgft.errors import KgftError
from kgft.routes import build_route

app = typer.Typer(
    help="kgft: knowledge graph + base model vs. domain fine-tuning, with accuracy and full cost measured.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ingest_app, name="ingest")
app.add_typer(ft_app, name="ft")
app.add_typer(keys_app, name="keys")
app.command("serve")(serve)
app.add_typer(eval_app, name="eval")
app.add_typer(ledger_app, name="ledger")


@app.callback()
def _root(ctx: typer.Context) -> None:
    ctx.obj = Context()


@app.command()
def llm(
    ctx: typer.Context,
    prompt: Annotated[str, typer.Argument(help="the prompt to send")],
    backend: Annotated[str, typer.Option("--backend", "-b", help="gguf:smollm2, hf:DIR, openai:MODEL...")] = (
        "gguf:smollm2"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="print the Answer as one JSON object")] = False,
    max_tokens: Annotated[int | None, typer.Option(min=1, help="cap on generated tokens")] = None,
    system: Annotated[str | None, typer.Option(help="system message")] = None,
) -> None:
    """Run one backend once on a prompt and print the Answer (text, tokens, timings, cost)."""
    context: Context = ctx.obj
    model = create_backend(backend, context.settings)
    try:
        limit = max_tokens or context.settings.max_tokens
        if as_json:
            answer = ask(model, prompt, context.prices, max_tokens=limit, system=system)
            sys.stdout.write(answer.model_dump_json() + "\n")
            return
        answer = ask(model, prompt, context.prices, max_tokens=limit, system=system, on_text=_print_piece)
        sys.stdout.write("\n")
        sys.stdout.flush()  # the whole text on stdout before the summary on stderr
        _print_summary(answer)
    finally:
        model.close()


@app.command("ask")
def ask_route(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="the question, e.g. 刑法第二百三十二条规定了什么？")],
    route: Annotated[str, typer.Option("--route", "-r", help="kg or ft")] = "kg",
    domain: Annotated[str, typer.Option(help="legal or medical")] = "legal",
    option: Annotated[
        list[str] | None, typer.Option("--option", "-o", help="MCQ option as A=text; repeat")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the Answer as one JSON object")] = False,
) -> None:
    """Answer one question through a route and print the Answer with its citations and cost."""
    context: Context = ctx.obj
    parsed = Question(id="cli", text=question, domain=domain, options=_parse_options(option or []))
    answer = build_route(route, context.settings, context.prices).answer(parsed)
    if as_json:
        sys.stdout.write(answer.model_dump_json() + "\n")
        return
    sys.stdout.write((answer.text or f"(abstained: {answer.abstain_reason})") + "\n")
    sys.stdout.flush()
    for number, citation in enumerate(answer.citations, 1):
        err.print(f"[{number}] {citation.source}: {citation.text[:80]}", markup=False, highlight=False)
    _print_summary(answer)


@app.command()
def demo(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="the run folder the report is written to")] = Path("runs/demo"),
    n: Annotated[int, typer.Option("--n", min=2, help="questions to ask each route")] = 50,
    data_dir: Annotated[
        Path | None, typer.Option(help="the shared data root (LexEval); default: ../shared/data if present")
    ] = None,
) -> None:
    """Build both routes, run them on the same legal questions, write the report and print the verdict."""
    from kgft.demo import run_demo

    context: Context = ctx.obj
    shared = Path("..") / "shared" / "data"
    result = run_demo(
        context.settings,
        context.prices,
        out=out,
        n=n,
        data_dir=data_dir or (shared if shared.is_dir() else None),
    )
    print(result.verdict)
    err.print(f"report: {result.report.resolve()}", markup=False, highlight=False)


def _parse_options(raw: list[str]) -> dict[str, str] | None:
    options = {}
    for item in raw:
        letter, sep, text = item.partition("=")
        if not sep or not text.strip():
            raise KgftError(f"option '{item}' is not LETTER=text, e.g. A=故意杀人罪")
        options[letter.strip().upper()] = text.strip()
    return options or None


def _print_piece(piece: str) -> None:
    sys.stdout.write(piece)
    sys.stdout.flush()


def _print_summary(answer: Answer) -> None:
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_row("model", escape(f"{answer.model} ({answer.route})"))
    table.add_row("tokens", f"{answer.usage.prompt_tokens} in, {answer.usage.completion_tokens} out")
    table.add_row("time", f"{answer.timings.total_ms:.0f} ms")
    cost = f"${answer.cost.runtime_usd:.8f}" if answer.cost.priced else "unpriced"
    table.add_row("cost", f"{cost}  [dim]{escape(answer.cost.basis)}[/dim]")
    err.print(table)


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
