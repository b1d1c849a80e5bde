"""What each optimizer step trains on: the dataset folder read and tokenized as the config says, and a plan
that rebuilds any step's micro-batches, which is what lets a run resume exactly."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ft_route.records import EVAL_FILE, TRAIN_FILE, SFTExample, data_hash
from ft_route.train.presets import TrainConfig
from ft_route.train.sft_data import TokenizedSet, epoch_batches, load_examples, tokenize_examples


@dataclass(frozen=True)
class Dataset:
    train: list[SFTExample]
    eval: list[SFTExample]
    data_hash: str
    folder: Path


def load_dataset(data_dir: Path) -> Dataset:
    train_path = data_dir / TRAIN_FILE
    eval_path = data_dir / EVAL_FILE
    return Dataset(
        train=load_examples(train_path),
        eval=load_examples(eval_path) if eval_path.is_file() else [],
        data_hash=data_hash(train_path),
        folder=data_dir,
    )


def tokenize_for(tokenizer: Any, examples: Sequence[SFTExample], config: TrainConfig) -> TokenizedSet:
    return tokenize_examples(
        tokenizer,
        examples,
        max_seq_len=config.max_seq_len,
        think_open=config.think_open,
        think_close=config.think_close,
        system_prompt=config.system_prompt,
    )


class StepPlan:
    """Which rows each optimizer step trains on. Epoch e's order is a shuffle seeded by (seed, e), so any
    step's micro-batches can be rebuilt: that is what makes resuming exact.
    """

    def __init__(self, lengths: Sequence[int], config: TrainConfig):
        self._lengths = list(lengths)
        self._config = config
        self._epochs: dict[int, list[list[int]]] = {}
        per_epoch = len(self._epoch(0))
        self.total_steps = config.steps or max(1, math.ceil(config.epochs * per_epoch / config.grad_accum))

    def _epoch(self, epoch: int) -> list[list[int]]:
        if epoch not in self._epochs:
            config = self._config
            self._epochs[epoch] = epoch_batches(
                self._lengths,
                batch_size=config.batch_size,
                max_seq_len=config.max_seq_len,
                packing=config.packing,
                seed=config.seed,
                epoch=epoch,
            )
        return self._epochs[epoch]

    def micro_batches(self, step: int) -> list[list[int]]:
        first = step * self._config.grad_accum
        return [self._micro_batch(index) for index in range(first, first + self._config.grad_accum)]

    def _micro_batch(self, index: int) -> list[int]:
        epoch = 0
        while index >= len(self._epoch(epoch)):
            index -= len(self._epoch(epoch))
            epoch += 1
        return self._epoch(epoch)[index]
