"""Fine-tune a base model on an SFT dataset: LoRA or full, with checkpoints, a card and a ledger entry."""

from ft_route.train.cards import TrainingCard
from ft_route.train.errors import TrainingError
from ft_route.train.presets import PRESETS, ConfigError, TrainConfig, resolve
from ft_route.train.trainer import train

__all__ = ["PRESETS", "ConfigError", "TrainConfig", "TrainingCard", "TrainingError", "resolve", "train"]
