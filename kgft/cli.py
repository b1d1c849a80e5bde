"""The core's own commands, `kgft llm` and `kgft ask`: one backend, or one route through the contract."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kgft.answers import ask
from kgft.backends import create_backend
from kgft.cli_context import Context, err
from kgft.contract import Answer, Question
from kgft.errors import KgftError
from kgft.routes import build_route


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
