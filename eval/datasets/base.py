"""The dataset-loader seam: one contract every source implements, and the checks they share."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Protocol

from eval.items import Dataset
from kgft.errors import KgftError


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


def shuffled_options(correct: str, distractors: list[str], rng: random.Random) -> tuple[dict[str, str], str]:
    """Options A.. in random order, so the gold letter carries no signal; returns (options, gold letter)."""
    texts = [correct, *distractors]
    rng.shuffle(texts)
    options = {chr(ord("A") + index): text for index, text in enumerate(texts)}
    return options, next(letter for letter, text in options.items() if text == correct)
