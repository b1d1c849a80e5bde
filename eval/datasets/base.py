"""The dataset-loader seam: one contract every source implements, and the checks they share."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar

from eval.items import Dataset
from kgft.errors import KgftError
from kgft.graph_store import GraphStore, GraphStoreError

T = TypeVar("T")
GraphOpener = Callable[[], GraphStore]  # opens the graph KG-derived sets are generated from


class DatasetError(KgftError):
    """A dataset could not be found or read: says which file, line and field, and what to pass instead."""


class DatasetLoader(Protocol):
    """One source of eval items: a published benchmark, a generator over a KG, or a user's file."""

    def load(self, data_dir: Path | None, *, seed: int) -> Dataset: ...


def require_folder(data_dir: Path | None, relative: str, dataset: str) -> Path:
    """The folder under the shared data root, or an error that says how to point at it."""
    if data_dir is None:
        raise DatasetError(
            f"'{dataset}' reads {relative} under the shared data root; pass --data-dir (e.g. ../shared/data)"
        )
    folder = data_dir / relative
    if not folder.is_dir():
        raise DatasetError(f"'{dataset}' needs {folder}, which does not exist; check --data-dir {data_dir}")
    return folder


def require_file(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise DatasetError(f"{path} is missing; the data folder is incomplete")
    return path


def from_graph(
    graph: GraphOpener | None, read: Callable[[GraphStore], list[T]], *, dataset: str, what: str, ingest: str
) -> list[T]:
    """What `read` finds in the graph, the store closed before returning: the embedded engine may refuse
    a second open of its file in one process, and the KG route opens it next. No graph, or nothing in
    it, is an error that names the `kgft ingest` command that builds it."""
    hint = f"run `kgft ingest {ingest}` first"
    if graph is None:
        raise DatasetError(f"'{dataset}' is generated from the knowledge graph, and none was given; {hint}")
    try:
        store = graph()
        try:
            found = read(store)
        finally:
            store.close()
    except GraphStoreError as exc:
        raise DatasetError(f"'{dataset}' cannot read {what} from the graph ({exc}); {hint}") from exc
    if not found:
        raise DatasetError(f"'{dataset}': the graph {store.url} holds no {what}; {hint}")
    return found
