"""Assemble the FT route from a `kgft ft train` output folder: its card, the `hf:` backend, the budget."""

from __future__ import annotations

from typing import Any

from ft_route.serve.budget_forcing import BudgetForcer, ThinkingBudget
from ft_route.serve.route import FTRoute
from kgft.backends import LLMBackend, create_backend
from kgft.backends.hf import HFBackend
from kgft.errors import KgftError
from kgft.pricing import PriceBook
from kgft.settings import Settings
from kgft.trained_model import TrainedModel, read_trained_model, trained_model_folder


def build_route(settings: Settings, prices: PriceBook) -> FTRoute:
    trained = read_trained_model(trained_model_folder(settings))
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
