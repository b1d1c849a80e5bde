"""Assemble the FT route from a `kgft ft train` output folder: its card, the `hf:` backend, the budget."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from ft_route.records import ADAPTER_DIR, MODEL_DIR, TRAINING_CARD
from ft_route.serve.budget_forcing import BudgetForcer, ThinkingBudget
from ft_route.serve.route import FTRoute
from kgft.backends import LLMBackend, create_backend
from kgft.backends.gguf_files import SMOLLM2_ALIAS
from kgft.backends.hf import HFBackend
from kgft.errors import KgftError
from kgft.pricing import PriceBook
from kgft.settings import Settings

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "adapters" / "smollm2-legal"
# `kgft ft train` names a SmolLM2 base by the model's name; the hf: backend knows it by this alias.
_BASE_ALIASES = {"SmolLM2-135M-Instruct": SMOLLM2_ALIAS, SMOLLM2_ALIAS: SMOLLM2_ALIAS}


@dataclass(frozen=True)
class TrainedModel:
    """A training output folder as its card describes it: what to load, and the format it learned."""

    folder: Path
    base_model: str  # as the card names it
    data_hash: str
    backend_spec: str
    think_open: str = "<think>\n"  # ft_route.train's defaults, for cards that do not record them
    think_close: str = "\n</think>\n"
    system_prompt: str | None = None


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


def build_route(settings: Settings, prices: PriceBook) -> FTRoute:
    if settings.ft_model is None and not DEFAULT_MODEL_DIR.is_dir():
        raise KgftError(
            f"no fine-tuned model at {DEFAULT_MODEL_DIR}; run `kgft ft train` or set KGFT_FT_MODEL "
            "to a training output folder"
        )
    trained = read_trained_model(settings.ft_model or DEFAULT_MODEL_DIR)
    backend = create_backend(trained.backend_spec, settings)
    return FTRoute(
        backend,
        trained,
        prices,
        max_tokens=settings.max_tokens,
        forcer=_forcer(backend, trained, settings),
        mcq_mode=settings.mcq_mode,
    )


def _forcer(backend: LLMBackend, trained: TrainedModel, settings: Settings) -> BudgetForcer | None:
    """None when both budgets are 0 (plain generation); a max of 0 with a min leaves max_tokens as the cap."""
    if not (settings.ft_max_thinking_tokens or settings.ft_min_thinking_tokens):
        return None
    cap = settings.ft_max_thinking_tokens or settings.max_tokens
    if settings.ft_min_thinking_tokens > cap:
        raise KgftError(
            f"KGFT_FT_MIN_THINKING_TOKENS ({settings.ft_min_thinking_tokens}) exceeds the thinking "
            f"cap ({cap}); lower it or raise KGFT_FT_MAX_THINKING_TOKENS"
        )
    model, tokenizer = _model_and_tokenizer(backend)
    budget = ThinkingBudget(
        max_tokens=cap,
        min_tokens=settings.ft_min_thinking_tokens,
        open=trained.think_open,
        close=trained.think_close,
    )
    return BudgetForcer(model, tokenizer, budget, backend.model)


def _model_and_tokenizer(backend: LLMBackend) -> tuple[Any, Any]:
    """Budget forcing drives the model token by token, which only an in-process hf: backend allows."""
    if not isinstance(backend, HFBackend):
        raise KgftError(f"budget forcing needs an hf: backend, not {backend.spec}")
    return backend.torch_model, backend.tokenizer
