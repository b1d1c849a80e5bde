"""A `kgft ft train` output folder read through its training card: what to load, and the format it learned.

In the core because two routes serve a trained model: `ft` answers from it alone, `hybrid` reads the
graph's facts with it. Neither route imports the other, so the card's meaning lives here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from kgft.backends.gguf_files import SMOLLM2_ALIAS
from kgft.errors import KgftError
from kgft.settings import Settings

# The LoRA adapter kgft ships (trained by `kgft ft train` on the legal data; see its card).
SHIPPED_MODEL_DIR = Path(__file__).resolve().parent / "adapters" / "smollm2-legal"
TRAINING_CARD = "training_card.json"
ADAPTER_DIR = "adapter"
MODEL_DIR = "model"
# `kgft ft train` names a SmolLM2 base by the model's name; the hf: backend knows it by this alias.
_BASE_ALIASES = {"SmolLM2-135M-Instruct": SMOLLM2_ALIAS, SMOLLM2_ALIAS: SMOLLM2_ALIAS}


@dataclass(frozen=True)
class TrainedModel:
    """A training output folder as its card describes it."""

    folder: Path
    base_model: str  # as the card names it
    data_hash: str
    backend_spec: str
    think_open: str = "<think>\n"  # ft_route.train's defaults, for cards that do not record them
    think_close: str = "\n</think>\n"
    system_prompt: str | None = None


def trained_model_folder(settings: Settings) -> Path:
    """KGFT_FT_MODEL, else the shipped adapter."""
    folder = settings.ft_model or SHIPPED_MODEL_DIR
    if settings.ft_model is None and not folder.is_dir():
        raise KgftError(
            f"no fine-tuned model at {folder}; run `kgft ft train` or set KGFT_FT_MODEL to a training "
            "output folder"
        )
    return folder


def read_trained_model(folder: Path) -> TrainedModel:
    if not folder.is_dir():
        raise KgftError(f"training output folder {folder} does not exist; run `kgft ft train` first")
    card_path = folder / TRAINING_CARD
    if not card_path.is_file():
        raise KgftError(f"{folder} has no {TRAINING_CARD}, so it is not a `kgft ft train` output folder")
    try:
        card = json.loads(card_path.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise KgftError(f"{card_path} is not valid JSON: {exc}") from exc
    missing = [key for key in ("base_model", "data_hash") if not isinstance(card.get(key), str)]
    if missing:
        raise KgftError(f"{card_path} lacks {', '.join(missing)}")
    # Serve in the format the model was trained on: same thinking delimiters, same system prompt.
    trained_format = {
        key: value
        for key, value in card.get("hyperparameters", {}).items()
        if key in ("think_open", "think_close", "system_prompt")
    }
    return TrainedModel(
        folder=folder,
        base_model=card["base_model"],
        data_hash=card["data_hash"],
        backend_spec=_backend_spec(folder, _base_target(card), card.get("output")),
        **trained_format,
    )


def _base_target(card: dict[str, Any]) -> str:
    """The folder the base was loaded from when it is still here, else the card's base model."""
    base_path = card.get("base_path")
    if base_path and Path(base_path).is_dir():
        return base_path
    return _BASE_ALIASES.get(card["base_model"], card["base_model"])


def _backend_spec(folder: Path, base: str, output: str | None) -> str:
    """A LoRA rides on its base model; a full (or merged) fine-tune is a model folder of its own."""
    outputs = [output] if output else [ADAPTER_DIR, MODEL_DIR]
    served = next((name for name in outputs if (folder / name).is_dir()), None)
    if served == ADAPTER_DIR:
        return f"hf:{base}?{urlencode({'adapter': folder / ADAPTER_DIR}, safe='/')}"
    if served == MODEL_DIR:
        return f"hf:{folder / MODEL_DIR}"
    raise KgftError(f"{folder} has no {' or '.join(f'{name}/' for name in outputs)} to serve")
