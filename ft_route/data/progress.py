"""The bar every model pass over examples shows: done/total, cache hits, elapsed and remaining time."""

from __future__ import annotations

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


def progress_bar(shown: bool) -> Progress:
    """Tasks must carry a `cached` field: how many items an earlier run had already done."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("[dim]{task.fields[cached]} cached"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not shown,
    )
