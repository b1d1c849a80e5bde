"""In-process transformers inference on CPU: any local causal LM, optionally with a PEFT adapter on top.

This is the backend that can run a fine-tuned model, and it scores exactly from the model's own logits.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer
from transformers.utils import logging as hf_logging

from kgft.backends.base import ChatMessage, Generation, OnText, Scoring
from kgft.backends.context_fit import fit_context
from kgft.backends.gguf_convert import safetensors_dir
from kgft.backends.gguf_files import LOCAL_CONTEXT, SMOLLM2_ALIAS, smollm2_path
from kgft.backends.repetition import is_looping
from kgft.backends.scoring_ids import render_chat, scoring_ids
from kgft.backends.spec import BackendSpec
from kgft.contract import Cost
from kgft.errors import BackendSpecError, ContextLengthError, ModelNotFoundError, first_line
from kgft.pricing import PriceBook
from kgft.settings import Settings


class HFBackend:
    can_score = True  # one forward pass over prompt and continuations

    def __init__(self, spec: BackendSpec, settings: Settings):
        spec.check_options({"adapter", "ctx"})
        self._settings = settings
        query = urlencode(spec.options, safe="/")  # readable paths that still parse back the same
        self.spec = f"hf:{spec.target}" + (f"?{query}" if query else "")
        source, self.model = _model_source(spec.target, settings)
        torch.set_num_threads(settings.threads)
        self._tokenizer, model = _load(source)
        adapter = spec.option("adapter")
        if adapter is not None:
            model = _with_adapter(model, Path(adapter).expanduser())
            self.model = f"{self.model}+{Path(adapter).name}"
        self._model: Any = model.eval()
        default = LOCAL_CONTEXT if spec.target == SMOLLM2_ALIAS else None  # as gguf:smollm2 reads
        self._context = _context(spec.tokens("ctx") or default, model.config, self.model)

    @property
    def torch_model(self) -> Any:
        """The loaded (adapter-merged) model, for callers that drive decoding token by token."""
        return self._model

    @property
    def tokenizer(self) -> Any:
        return self._tokenizer

    def generate(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int,
        temperature: float = 0.0,
        stop: Sequence[str] = (),
        top_p: float | None = None,
        seed: int | None = None,
        on_text: OnText | None = None,
    ) -> Generation:
        """Temperature 0 decodes greedily, so `top_p` and `seed` then change nothing; when sampling, `seed`
        seeds torch's global generator, since transformers' `generate` takes no generator of its own."""
        return fit_context(
            lambda fitted: self._generate(fitted, max_tokens, temperature, stop, top_p, seed, on_text),
            messages,
            enabled=self._settings.fit_context,
        )

    def _generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        temperature: float,
        stop: Sequence[str],
        top_p: float | None,
        seed: int | None,
        on_text: OnText | None,
    ) -> Generation:
        started = time.perf_counter()
        prompt_ids = self._tokenizer(render_chat(self._tokenizer, messages), add_special_tokens=False)[
            "input_ids"
        ]
        self._check_context(len(prompt_ids) + max_tokens)
        streamer = _TextStreamer(self._tokenizer, stop, on_text, started)
        sampling: dict[str, Any] = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": temperature}
            if top_p is not None:
                sampling["top_p"] = top_p
            if seed is not None:
                torch.manual_seed(seed)
        with torch.inference_mode():
            output = self._model.generate(
                input_ids=torch.tensor([prompt_ids]),
                attention_mask=torch.ones(1, len(prompt_ids), dtype=torch.long),
                max_new_tokens=max_tokens,
                stopping_criteria=StoppingCriteriaList(
                    [_Looping(self._tokenizer, len(prompt_ids))]
                    + ([_StopStrings(self._tokenizer, stop, len(prompt_ids))] if stop else [])
                ),
                streamer=streamer,
                pad_token_id=self._pad_id(),
                **sampling,
            )
        new_ids: list[int] = output[0, len(prompt_ids) :].tolist()
        text, hit_stop = streamer.final_text()
        ended_on_eos = bool(new_ids) and new_ids[-1] in self._eos_ids()
        hit_length = len(new_ids) >= max_tokens and not (hit_stop or ended_on_eos)
        return Generation(
            text=text,
            model=self.model,
            prompt_tokens=len(prompt_ids),
            completion_tokens=len(new_ids),
            generation_ms=(time.perf_counter() - started) * 1000,
            first_token_ms=streamer.first_token_ms,
            finish_reason="length" if hit_length else "stop",
        )

    def score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        """Teacher-forced log-likelihood of every continuation: the prompt is read once, then every
        continuation in one right-padded batch over the prompt's cached keys and values."""
        return fit_context(
            lambda fitted: self._score(fitted, continuations), messages, enabled=self._settings.fit_context
        )

    def _score(self, messages: Sequence[ChatMessage], continuations: Sequence[str]) -> Scoring:
        started = time.perf_counter()
        if not continuations:
            return Scoring(logprobs=[], tokens_read=0, scoring_ms=0.0)
        prompt_ids, targets = scoring_ids(self._tokenizer, messages, continuations)
        self._check_context(len(prompt_ids) + max(len(target) for target in targets))
        # The prompt's last token is read with the continuations: its logits predict their first token.
        rows = [prompt_ids[-1:] + target for target in targets]
        width = max(len(row) for row in rows)
        input_ids = torch.tensor([row + [0] * (width - len(row)) for row in rows])
        # Right padding leaves every real position's logits untouched under a causal mask.
        mask = torch.tensor(
            [[1] * (len(prompt_ids) - 1 + len(row)) + [0] * (width - len(row)) for row in rows]
        )
        with torch.inference_mode():
            cache = None
            if len(prompt_ids) > 1:
                cache = self._model(input_ids=torch.tensor([prompt_ids[:-1]]), use_cache=True).cache
                cache.batch_repeat_interleave(len(rows))
            logits = self._model(input_ids=input_ids, attention_mask=mask, cache=cache).logits
            logprobs = torch.log_softmax(logits.float(), -1)
        scores = []
        for row, target in enumerate(targets):
            # Position p's logits predict token p + 1, so target token j is read at position j.
            picked = logprobs[row, torch.arange(len(target)), torch.tensor(target, dtype=torch.long)]
            scores.append(float(picked.sum()))
        return Scoring(
            logprobs=scores,
            tokens_read=len(prompt_ids) + sum(len(target) for target in targets),
            scoring_ms=(time.perf_counter() - started) * 1000,
        )

    def _check_context(self, tokens: int) -> None:
        if self._context is not None and tokens > self._context:
            raise ContextLengthError(
                f"{tokens} tokens exceed {self.model}'s context of {self._context} tokens",
                tokens=tokens,
                limit=self._context,
            )

    def cost(self, generation: Generation, prices: PriceBook) -> Cost:
        return prices.compute_cost(
            self._settings.device, generation.generation_ms / 1000, cores=self._settings.threads
        )

    def close(self) -> None:
        self._model = None

    def _pad_id(self) -> int:
        pad = self._tokenizer.pad_token_id
        return self._tokenizer.eos_token_id if pad is None else pad

    def _eos_ids(self) -> set[int]:
        eos = self._model.generation_config.eos_token_id
        return set(eos) if isinstance(eos, list) else {eos}


def _model_source(target: str, settings: Settings) -> tuple[str, str]:
    """Where to load from and the model's name: a folder, or a Hugging Face id for the local cache."""
    if target == SMOLLM2_ALIAS:
        return str(safetensors_dir(smollm2_path(), settings)), "SmolLM2-135M-Instruct"
    path = Path(target).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFoundError(f"{path} has no config.json, so it is not a transformers model folder")
        return str(path), path.resolve().name
    if path.is_file():
        raise ModelNotFoundError(f"{path} is a file; hf: loads model folders (gguf: loads .gguf files)")
    # Hub ids are `name` or `org/name`; anything else that looks like a path must exist.
    if target.startswith((".", "/", "~")) or target.count("/") > 1:
        raise ModelNotFoundError(f"model folder not found: {path}")
    return target, target


def _context(asked: int | None, config: Any, model: str) -> int | None:
    """Tokens the backend reads at most: those asked (`?ctx=N`), else the model's positions."""
    positions = getattr(config, "max_position_embeddings", None)
    if asked is None:
        return positions
    if positions is not None and asked > positions:
        raise BackendSpecError(f"ctx={asked} exceeds {model}'s {positions} positions")
    return asked


def _load(source: str) -> tuple[Any, Any]:
    """Tokenizer and fp32 model, from local files only so a missing model fails at once, never hangs."""
    hf_logging.disable_progress_bar()  # a per-tensor loading bar on every model load is noise in a CLI
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(source, local_files_only=True, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        if Path(source).is_dir():
            raise ModelNotFoundError(f"could not load the model in {source}: {first_line(exc)}") from exc
        raise ModelNotFoundError(
            f"'{source}' is neither a folder nor in the local Hugging Face cache; "
            f"download it first (hf download {source})"
        ) from exc
    return tokenizer, model


def _with_adapter(model: Any, adapter: Path) -> Any:
    """Merge the LoRA into the weights: inference then runs at the base model's speed."""
    from peft import PeftModel

    weights = [adapter / name for name in ("adapter_model.safetensors", "adapter_model.bin")]
    # Checked here because PEFT treats an incomplete local folder as a Hub id and fails obscurely.
    if not ((adapter / "adapter_config.json").is_file() and any(w.is_file() for w in weights)):
        raise ModelNotFoundError(f"no PEFT adapter (adapter_config.json + adapter_model.*) in {adapter}")
    try:
        with warnings.catch_warnings():
            # PEFT asks transformers a deprecated question while loading; the user can do nothing about it.
            warnings.filterwarnings("ignore", "`is_gradient_checkpointing` is deprecated", FutureWarning)
            return PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    except (OSError, ValueError, RuntimeError) as exc:
        raise ModelNotFoundError(f"could not load the adapter in {adapter}: {first_line(exc)}") from exc


def _cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """`text` up to the first stop string, and whether there was one."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text, False) if cut < 0 else (text[:cut], True)


class _StopStrings(StoppingCriteria):
    """Stops on a stop string in the decoded reply. transformers' own `stop_strings` preprocesses the
    whole vocabulary on every call (0.3 s for SmolLM2); decoding a short reply per token is far cheaper.
    """

    def __init__(self, tokenizer: Any, stop: Sequence[str], prompt_len: int):
        self._tokenizer = tokenizer
        self._stop = stop
        self._prompt_len = prompt_len

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        text = self._tokenizer.decode(input_ids[0, self._prompt_len :], skip_special_tokens=True)
        return torch.tensor([_cut_at_stop(text, self._stop)[1]])


class _Looping(StoppingCriteria):
    """Stops a reply that has started to loop (kgft.backends.repetition)."""

    def __init__(self, tokenizer: Any, prompt_len: int):
        self._tokenizer = tokenizer
        self._prompt_len = prompt_len

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        text = self._tokenizer.decode(input_ids[0, self._prompt_len :], skip_special_tokens=True)
        return torch.tensor([is_looping(text)])


class _TextStreamer(BaseStreamer):
    """Decodes tokens as `generate` produces them and passes on only final text: none past a stop string,
    no half-decoded character, and no tail that may yet turn into a stop string.
    """

    def __init__(self, tokenizer: Any, stop: Sequence[str], on_text: OnText | None, started: float):
        self._tokenizer = tokenizer
        self._stop = stop
        self._on_text = on_text
        self._started = started
        self._ids: list[int] = []
        self._prompt_seen = False
        self._sent_chars = 0
        self.first_token_ms: float | None = None

    def put(self, value: torch.Tensor) -> None:
        if not self._prompt_seen:  # generate() hands the prompt over first
            self._prompt_seen = True
            return
        if self.first_token_ms is None:
            self.first_token_ms = (time.perf_counter() - self._started) * 1000
        self._ids.extend(value.reshape(-1).tolist())
        if self._on_text is not None:
            self._send(self._on_text, final=False)

    def end(self) -> None:
        if self._on_text is not None:
            self._send(self._on_text, final=True)

    def final_text(self) -> tuple[str, bool]:
        """The whole reply cut at the first stop string, and whether one was hit."""
        return _cut_at_stop(self._tokenizer.decode(self._ids, skip_special_tokens=True), self._stop)

    def _send(self, on_text: OnText, final: bool) -> None:
        text, hit_stop = self.final_text()
        if not (final or hit_stop):
            text = text.rstrip("\ufffd")
            held = max((k for s in self._stop for k in range(1, len(s)) if text.endswith(s[:k])), default=0)
            text = text[: len(text) - held]
        if len(text) > self._sent_chars:
            on_text(text[self._sent_chars :])
            self._sent_chars = len(text)
