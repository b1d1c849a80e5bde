"""Settings are read once, here, and passed down; nothing below reads the environment."""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, PositiveInt, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kgft.contract import Domain


# --- gateway (kgft serve) ---------------------------------------------------------------------------
class GatewayExperiment(BaseModel):
    """A gateway model name that splits, shadows and falls back across routes (`[gateway_experiments.X]`)."""

    model_config = ConfigDict(extra="forbid")

    arms: dict[str, float] = Field(min_length=1, description="route -> weight; a user keeps one arm")
    shadow: str | None = Field(default=None, description="route also run in the background, logged only")
    fallback: str | None = Field(default=None, description="answers when the arm fails or times out")
    timeout_s: float | None = Field(default=None, gt=0, description="default: gateway_route_timeout_s")

    @model_validator(mode="after")
    def _weights(self) -> GatewayExperiment:
        if any(weight < 0 for weight in self.arms.values()) or sum(self.arms.values()) <= 0:
            raise ValueError(f"arm weights must be >= 0 with a positive sum, got {self.arms}")
        return self


# --- end gateway ---------------------------------------------------------------------------------------


def _config_file() -> Path:
    return Path(os.environ.get("KGFT_CONFIG", "kgft.toml"))


class Settings(BaseSettings):
    """`KGFT_*` environment variables win over `kgft.toml`, which wins over defaults."""

    model_config = SettingsConfigDict(env_prefix="KGFT_", extra="forbid")

    home: Path = Field(default=Path.home() / ".kgft", description="caches, graph and run stores")
    prices: Path | None = Field(default=None, description="TOML merged over the shipped prices")
    device: str = Field(
        default="auto", description="a prices.toml rate name, or auto: price the hardware that ran (CPU/GPU)"
    )
    local_utilisation: Decimal = Field(
        default=Decimal(1),
        gt=0,
        le=1,
        description="1: local compute paid per busy second (shared); below 1: reserved hours at this use",
    )
    model_cache: Path | None = Field(
        default=None, description="models converted for transformers; default KGFT_HOME/cache/models"
    )
    threads: int = Field(default=max(1, os.cpu_count() or 1), ge=1)
    max_tokens: int = Field(default=256, ge=1)
    max_request_tokens: int = Field(
        default=8192, ge=1, description="the largest max_tokens a request may ask for"
    )
    timeout_s: float = Field(default=120.0, gt=0)
    fit_context: bool = Field(
        default=True,
        description="a prompt longer than a local model's context loses its longest message's middle "
        "(OpenRouter's middle-out) instead of failing with 400",
    )
    graph: str | None = Field(default=None, description="ladybug:PATH or bolt://host:port[/db]")
    graph_user: str | None = None
    graph_password: SecretStr | None = None
    kg_backend: str = Field(default="gguf:smollm2", description="the KG route's base model")
    kg_reader: str = Field(
        default="llm", description="MCQ reader: llm (the model picks, by KGFT_MCQ_MODE) or lexical (no model)"
    )
    kg_budget_tokens: int = Field(default=1024, ge=16, description="facts put in the prompt, at most")
    kg_without_facts: Literal["model", "abstain"] = Field(
        default="model",
        description="a question the graph holds nothing on: the model answers alone, or abstain",
    )
    kg_recitation: bool = Field(
        default=True,
        description="answers the graph holds whole, with no model: a named article's text verbatim, and "
        "for a case asking which crime, the ranked charges and their articles",
    )
    kg_embeddings: bool = Field(
        default=False, description="embedding fallback for paraphrases; first use embeds ~27k names (minutes)"
    )
    ft_model: Path | None = Field(
        default=None, description="a `kgft ft train` output folder; default: the adapter shipped in ft_route"
    )
    ft_max_thinking_tokens: int = Field(default=0, ge=0, description="budget forcing: 0 means no thinking")
    ft_min_thinking_tokens: int = Field(default=0, ge=0, description="budget forcing: 'Wait' below this")
    llm_backend: str = Field(default="gguf:smollm2", description="the plain `llm` route: no knowledge")
    mcq_mode: Literal["auto", "score", "generate"] = Field(
        default="auto",
        description="how a model picks an MCQ option: score (log-likelihood), generate (ask for the "
        "letter and parse it), auto (score where the backend can, else generate)",
    )
    db_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the results store; default SQLite under KGFT_HOME"
    )
    monthly_queries: int = Field(default=10_000, ge=1, description="volume build costs amortize over")
    amortization_months: int = Field(default=12, ge=1, description="months a build is written off over")
    fixed_monthly_usd: dict[str, dict[str, Decimal]] = Field(
        default_factory=dict,
        description="route -> {item: USD a month}: serving hardware reserved, graph DB host, KG updates...",
    )
    updates_per_month: Decimal = Field(
        default=Decimal(0),
        ge=0,
        description="how often the domain's knowledge changes: each route's measured $ per update "
        "(kgft ingest legal --update, a refresh training run) times this is a fixed monthly cost",
    )
    openai_base_url: str = "https://api.openai.com/v1"
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("KGFT_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    # --- gateway (kgft serve) -----------------------------------------------------------------------
    gateway_routes: list[str] = Field(default=["kg", "ft"], description="routes built at gateway start")
    gateway_default: str | None = Field(
        default=None, description="model `auto`: a route or experiment; default: the first served route"
    )
    gateway_experiments: dict[str, GatewayExperiment] = Field(default_factory=dict)
    reports_dir: Path = Field(default=Path("runs"), description="eval report folders the web page lists")
    gateway_auth: bool = Field(default=True, description="false for local demos only: no API key is asked")
    gateway_domain: Domain = Field(default="legal", description="domain of a chat request that names none")
    gateway_max_body_bytes: int = Field(default=64 * 1024, ge=1024, description="larger requests get 413")
    gateway_drain_bytes: int = Field(
        default=8 * 1024 * 1024, ge=0, description="a refused body up to this is read, so the client sees 413"
    )
    gateway_route_timeout_s: float = Field(default=60.0, gt=0, description="then fallback, or 504")
    gateway_route_concurrency: dict[str, PositiveInt] = Field(
        default_factory=dict, description="route -> calls it takes at once; others take the default"
    )
    gateway_default_concurrency: int = Field(
        default=2, ge=1, description="calls a route takes at once: 2, so one stuck call does not stop it"
    )
    gateway_route_queue: int = Field(
        default=16, ge=0, description="calls that may wait for a route's slot; more get 503 + retry-after"
    )
    gateway_threads: int = Field(default=32, ge=1, description="threads that wait on route calls")
    gateway_shadow_queue: int = Field(default=64, ge=0, description="shadow runs waiting; more are dropped")
    # --- end gateway --------------------------------------------------------------------------------

    @model_validator(mode="after")
    def _fixed_costs(self) -> Settings:
        for route, items in self.fixed_monthly_usd.items():
            for item, usd in items.items():
                if not usd.is_finite() or usd < 0:
                    raise ValueError(f"fixed_monthly_usd.{route}.{item} must be >= 0, got {usd}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)

    @property
    def cache_dir(self) -> Path:
        return self.home / "cache"

    @property
    def model_cache_dir(self) -> Path:
        """Conversions take tens of seconds and depend on the model file alone, so homes may share them."""
        return self.model_cache or self.cache_dir / "models"

    @property
    def graph_url(self) -> str:
        """The embedded Ladybug graph under KGFT_HOME unless KGFT_GRAPH names another store."""
        return self.graph or f"ladybug:{self.home / 'graph'}"

    @property
    def store_url(self) -> str:
        """Eval runs and gateway traffic share one results store, so one report covers both."""
        return self.db_url or f"sqlite:///{self.home / 'kgft.db'}"

    @property
    def ledger_path(self) -> Path:
        return self.home / "ledger.jsonl"

    @property
    def keys_path(self) -> Path:
        """Where an older kgft kept its gateway keys; the keys table of the results store imports it once."""
        return self.home / "keys.json"
