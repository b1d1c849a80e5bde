"""`kgft eval freshness`: when the law changes, how fast and how cheaply does each route catch up?

The statute data holds 11 laws in an old and a current version. Both routes are built as of the old
versions (KG: a graph of the old texts; FT: a LoRA trained on them), asked MCQs on the articles the
amendments changed (the old text is a distractor) and on some they left alone; then each route is
updated (KG: `--update` ingests of the 11 new versions; FT: a refresh run from the previous adapter on
the changed articles, same recipe) and asked again. Every build and update is booked in the ledger.

Each phase writes its result under OUT/phases, so a re-run picks up after the last finished phase.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import typer

from eval.freshness import OPTION_CHARS, FreshnessItem, article_question, freshness_items
from eval.freshness_report import Phase, RouteFreshness, Update, route_freshness, write_report
from kgft.cli_context import Context, err
from kgft.contract import Route
from kgft.errors import KgftError
from kgft.graph_store import NodeRow
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.sources.statutes import read_statutes, statute_files

CURRENT = "现行有效"
# Enough to see a 30-point change on the changed items with a CI of about ±15 points, and to finish on
# two CPU cores in well under 30 minutes with SmolLM2-135M (measured: README, Freshness).
DEFAULT_CHANGED, DEFAULT_UNCHANGED = 40, 20
# The recipe both FT runs share: the LoRA preset, one micro-batch a step (a few dozen examples make a
# dozen steps at its grad_accum 4), at a length that holds the recited text: the part options show.
FT_EPOCHS, FT_GRAD_ACCUM, FT_MAX_SEQ_LEN, RECITED_CHARS = 3.0, 1, 320, OPTION_CHARS


@dataclass(frozen=True)
class StatuteSplit:
    """The versioned laws' rows: old versions, new versions (in the order they took effect), all."""

    old_laws: list[dict[str, Any]]
    new_laws: list[dict[str, Any]]
    articles: dict[str, list[dict[str, Any]]]  # law_id -> its article rows


def freshness(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option(help="run folder: graph, adapters, phases, report.md/json")],
    domain: Annotated[
        str, typer.Option(help="only legal: statutes are what the data holds versions of")
    ] = "legal",
    changed: Annotated[
        int, typer.Option(min=1, help="items on articles the amendments changed")
    ] = DEFAULT_CHANGED,
    unchanged: Annotated[
        int, typer.Option(min=0, help="items on articles they left alone")
    ] = DEFAULT_UNCHANGED,
    seed: Annotated[int, typer.Option(help="item sampling and option order")] = 0,
) -> None:
    """Build both routes on the old statutes, ask, apply the amendments, ask again; write the report."""
    if domain != "legal":
        raise KgftError(f"--domain {domain}: the freshness run needs versioned data, which only legal has")
    context: Context = ctx.obj
    report = run_freshness(out, context.settings, context.prices, changed, unchanged, seed)
    err.print(report.read_text("utf-8"), markup=False, highlight=False)


def run_freshness(
    out: Path, settings: Settings, prices: PriceBook, changed: int, unchanged: int, seed: int
) -> Path:
    from kg_route.ingest.legal import plan_legal

    split = split_statutes(statute_files(None))
    (out / "phases").mkdir(parents=True, exist_ok=True)
    rows = _rows(split.old_laws + split.new_laws, split)
    nodes = plan_legal(*rows).nodes
    items = freshness_items(nodes, changed, unchanged, seed)
    kg = _kg(out, settings, prices, split, items)
    ft = _ft(out, settings, prices, {node.id: node for node in nodes}, items)
    return write_report(out, items, [kg, ft])


def split_statutes(files: list[Path]) -> StatuteSplit:
    law_records, article_records = read_statutes(files)
    by_name: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, law in law_records:
        if isinstance(law, dict):
            by_name[law["law_name"]].append(law)
    versioned = [laws for laws in by_name.values() if len(laws) > 1]
    ids = {law["law_id"] for laws in versioned for law in laws}
    articles: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for _, row in article_records:
        if isinstance(row, dict) and row["law_id"] in ids:
            articles[row["law_id"]].append(row)
    old = [law for laws in versioned for law in laws if law["status"] != CURRENT]
    new = [law for laws in versioned for law in laws if law["status"] == CURRENT]
    return StatuteSplit(old, sorted(new, key=_starts), articles)


def _starts(law: dict[str, Any]) -> str:
    return max(day for day in (law.get("effective_date"), law.get("version_date"), "") if day is not None)


def _rows(laws: Sequence[dict[str, Any]], split: StatuteSplit) -> tuple[list, list]:
    """(law records, article records) as kgft.sources.statutes yields them."""
    law_rows = [(f"freshness:law:{i}", law) for i, law in enumerate(laws)]
    articles = [row for law in laws for row in split.articles[law["law_id"]]]
    return law_rows, [(f"freshness:article:{i}", row) for i, row in enumerate(articles)]


def _folder(folder: Path, laws: Sequence[dict[str, Any]], split: StatuteSplit) -> Path:
    """A laws.jsonl + articles.part01.jsonl source, as `kgft ingest legal --source/--update` read."""
    folder.mkdir(parents=True, exist_ok=True)
    _jsonl(folder / "laws.jsonl", laws)
    _jsonl(folder / "articles.part01.jsonl", [row for law in laws for row in split.articles[law["law_id"]]])
    return folder


def _jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")


def _kg(
    out: Path, settings: Settings, prices: PriceBook, split: StatuteSplit, items: list[FreshnessItem]
) -> RouteFreshness:
    from kg_route.factory import linker_from_store
    from kg_route.ingest import ingest_legal
    from kg_route.ingest.legal_update import update_legal
    from kg_route.retrieval import FactRetriever
    from kg_route.route import KGRoute
    from kg_route.store import open_store

    graph = out / "graph.lbug"
    if not (out / "phases" / "kg-before.json").exists():
        shutil.rmtree(graph, ignore_errors=True)  # a graph from a run cut off before its first answers
        graph.unlink(missing_ok=True)
    store = open_store(f"ladybug:{graph}")
    try:

        def route() -> Route:  # a new retriever after the update: linker and version table are read once
            return KGRoute(FactRetriever(store, linker_from_store(store, settings)), settings, prices,
                           name="kg-lexical", reader="lexical")  # fmt: skip

        def build() -> None:
            ingest_legal(
                store, _folder(out / "statutes-old", split.old_laws, split), settings, prices, progress=False
            )

        def update() -> Update:
            started, cost, priced = time.perf_counter(), Decimal(0), True
            for law in split.new_laws:
                source = _folder(out / "updates" / law["law_id"], [law], split)
                update_legal(store, source, settings, prices, progress=False)
                entry = Ledger(settings.ledger_path).entries()[-1]  # the update just booked
                cost, priced = cost + entry.cost_usd, priced and entry.priced
            what = f"{len(split.new_laws)} amendments applied with `kgft ingest legal --update`"
            return Update(time.perf_counter() - started, cost, priced, what)

        return _phases(out, "kg-lexical", items, build, route, update, route)
    finally:
        store.close()


def _ft(
    out: Path, settings: Settings, prices: PriceBook, nodes: dict[str, NodeRow], items: list[FreshnessItem]
) -> RouteFreshness:
    """`nodes`: the planned graph of every version, by id: the texts the FT route learns."""
    from ft_route.records import SFTExample, write_examples
    from ft_route.serve.factory import build_route
    from ft_route.train import resolve, train

    old_dir, new_dir = out / "ft-old", out / "ft-new"

    def recite(article_id: str, law_name: str) -> SFTExample:
        article = nodes[article_id]
        props = json.loads(article.props)
        prompt = article_question(date.fromisoformat(props["valid_from"]), law_name, props["number_zh"])
        response = "".join(article.text.split())[:RECITED_CHARS]
        return SFTExample(f"fresh:{article_id}", prompt, response, "legal", law_name, f"kg:{article_id}")

    def run(data: list[SFTExample], folder: Path, init: Path | None) -> Update:
        write_examples(out / f"{folder.name}-data" / "train.jsonl", data)
        config = resolve(
            "lora",
            epochs=FT_EPOCHS,
            grad_accum=FT_GRAD_ACCUM,
            max_seq_len=FT_MAX_SEQ_LEN,
            resume=folder.exists(),
            init_adapter=str(init) if init else None,
        )
        card = train(config, out / f"{folder.name}-data", folder, settings, prices, progress=True)
        what = f"a LoRA run of {card.steps} steps on {len(data)} recited articles"
        return Update(card.device_seconds, Decimal(card.cost_usd), card.priced, what)

    def route(folder: Path) -> Callable[[], Route]:
        return lambda: build_route(settings.model_copy(update={"ft_model": folder}), prices)

    old_data = [recite(item.previous_id, item.law_name) for item in items]
    new_data = [recite(item.article_id, item.law_name) for item in items if item.changed]
    return _phases(
        out,
        "ft",
        items,
        lambda: run(old_data, old_dir, None),
        route(old_dir),
        lambda: run(new_data, new_dir, old_dir),
        route(new_dir),
    )


def _phases(
    out: Path,
    name: str,
    items: list[FreshnessItem],
    build: Callable[[], object],
    route_before: Callable[[], Route],
    update: Callable[[], Update],
    route_after: Callable[[], Route],
) -> RouteFreshness:
    """build → ask (before) → update → ask (after), each phase's result saved and reused on a re-run."""
    phases = out / "phases"
    before = _saved(phases / f"{name}-before.json")
    if before is None:
        build()
        before = _save(phases / f"{name}-before.json", _ask(route_before(), items))
    done = _saved(phases / f"{name}-update.json")
    if done is None:
        done = _save(phases / f"{name}-update.json", asdict(update()))
    after = _saved(phases / f"{name}-after.json")
    if after is None:
        after = _save(phases / f"{name}-after.json", _ask(route_after(), items))
    figures = Update(done["seconds"], Decimal(str(done["cost_usd"])), done["priced"], done["what"])
    return route_freshness(name, items, Phase(before["picks"]), Phase(after["picks"]), figures)


def _ask(route: Route, items: Sequence[FreshnessItem]) -> dict[str, Any]:
    answers = route.answer_batch([item.question for item in items])
    return {"picks": [None if answer.abstained else answer.choice for answer in answers]}


def _saved(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text("utf-8")) if path.exists() else None


def _save(path: Path, value: dict[str, Any]) -> dict[str, Any]:
    path.write_text(json.dumps(value, default=str, ensure_ascii=False), "utf-8")
    return json.loads(path.read_text("utf-8"))
