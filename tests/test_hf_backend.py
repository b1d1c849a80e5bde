"""The transformers backend on a real tiny LLaMA built in the test, and (slow) on SmolLM2 from its GGUF."""

from __future__ import annotations

import math
import time

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from kgft.backends import ChatMessage, LLMBackend, create_backend
from kgft.backends.gguf_convert import safetensors_dir, tokenizer_dir
from kgft.backends.gguf_files import smollm2_path
from kgft.errors import BackendSpecError, ContextLengthError, ModelNotFoundError
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.tiny_llama import build_tiny_llama, save_lora_adapter

QUESTION = [ChatMessage("user", "What is the capital of France?")]


@pytest.fixture(scope="module")
def settings(tmp_path_factory) -> Settings:
    return Settings(home=tmp_path_factory.mktemp("home"), threads=2)


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def tiny(tiny_dir, settings):
    backend = create_backend(f"hf:{tiny_dir}", settings)
    yield backend
    backend.close()


@pytest.fixture(scope="module")
def adapter_dir(tiny_dir, tmp_path_factory):
    return save_lora_adapter(tiny_dir, tmp_path_factory.mktemp("lora"))


def _manual_logprob(tiny_dir, continuation: str) -> float:
    """Token-by-token log-likelihood straight from the model's logits, with no batching or padding."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    model = AutoModelForCausalLM.from_pretrained(tiny_dir).eval()
    chat = [{"role": m.role, "content": m.content} for m in QUESTION]
    prompt_text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    prompt_len = len(tokenizer(prompt_text, add_special_tokens=False)["input_ids"])
    ids = tokenizer(prompt_text + continuation, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0]
    return sum(float(torch.log_softmax(logits[i - 1], -1)[ids[i]]) for i in range(prompt_len, len(ids)))


def test_generates_with_prompt_tokens_counted_from_the_chat_template(tiny, tiny_dir):
    generation = tiny.generate(QUESTION, max_tokens=8)
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    chat = [{"role": "user", "content": QUESTION[0].content}]
    template_ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True)["input_ids"]
    assert isinstance(tiny, LLMBackend)
    assert generation.prompt_tokens == len(template_ids)
    assert 0 < generation.completion_tokens <= 8
    assert generation.text
    assert generation.model == tiny_dir.name
    assert generation.first_token_ms is not None
    assert 0 < generation.first_token_ms <= generation.generation_ms


def test_streamed_pieces_join_to_the_text(tiny):
    pieces: list[str] = []
    generation = tiny.generate(QUESTION, max_tokens=12, on_text=pieces.append)
    assert len(pieces) > 1
    assert "".join(pieces) == generation.text
    # A random model never says end-of-turn here, so it runs to the limit.
    assert generation.completion_tokens == 12
    assert generation.finish_reason == "length"


def test_greedy_is_deterministic_and_a_stop_string_cuts_the_text(tiny):
    full = tiny.generate(QUESTION, max_tokens=12).text
    assert tiny.generate(QUESTION, max_tokens=12).text == full
    stop = full[len(full) // 2 :][:2]
    pieces: list[str] = []
    cut = tiny.generate(QUESTION, max_tokens=12, stop=[stop], on_text=pieces.append)
    assert cut.text == full[: full.index(stop)]
    assert "".join(pieces) == cut.text
    assert cut.finish_reason == "stop"


def test_scores_equal_the_models_own_log_likelihood(tiny, tiny_dir):
    short, long, empty = tiny.score(QUESTION, ["Paris", "The capital of France is Paris.", ""]).logprobs
    assert short < 0 and long < short
    assert empty == 0.0
    # Both rows of the padded batch must match an unbatched, unpadded computation.
    assert math.isclose(short, _manual_logprob(tiny_dir, "Paris"), abs_tol=1e-4)
    assert math.isclose(long, _manual_logprob(tiny_dir, "The capital of France is Paris."), abs_tol=1e-4)


def test_a_lora_adapter_changes_the_scores(tiny, tiny_dir, adapter_dir, settings):
    tuned = create_backend(f"hf:{tiny_dir}?adapter={adapter_dir}", settings)
    assert tuned.spec == f"hf:{tiny_dir}?adapter={adapter_dir}"
    assert tuned.model == f"{tiny_dir.name}+{adapter_dir.name}"
    base = tiny.score(QUESTION, ["Paris"]).logprobs[0]
    assert abs(tuned.score(QUESTION, ["Paris"]).logprobs[0] - base) > 0.01
    tuned.close()


def test_a_tokenizer_without_chat_template_gets_role_lines(tmp_path, settings):
    folder = build_tiny_llama(tmp_path / "plain", with_chat_template=False)
    backend = create_backend(f"hf:{folder}", settings)
    generation = backend.generate(QUESTION, max_tokens=4)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rendered = f"<|im_start|>user: {QUESTION[0].content}\nassistant: "
    assert generation.prompt_tokens == len(tokenizer(rendered, add_special_tokens=False)["input_ids"])
    assert backend.score(QUESTION, ["Paris"]).logprobs[0] < 0


def test_cost_is_measured_seconds_times_the_cpu_rate(tiny):
    cost = tiny.cost(tiny.generate(QUESTION, max_tokens=4), PriceBook.load())
    assert cost.priced
    assert " s × $0.0892/h (CPU, 2 cores" in cost.basis


def test_missing_models_and_bad_options_fail_with_one_line(tmp_path, tiny_dir, settings):
    with pytest.raises(ModelNotFoundError, match="model folder not found"):
        create_backend(f"hf:{tmp_path / 'absent'}", settings)
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        create_backend(f"hf:{tmp_path}", settings)
    with pytest.raises(ModelNotFoundError, match="local Hugging Face cache"):
        create_backend("hf:nobody-kgft/no-such-model", settings)
    with pytest.raises(ModelNotFoundError, match="no PEFT adapter"):
        create_backend(f"hf:{tiny_dir}?adapter={tmp_path / 'no-lora'}", settings)
    with pytest.raises(BackendSpecError, match="unknown option"):
        create_backend(f"hf:{tiny_dir}?n_ctx=1024", settings)
    with pytest.raises(BackendSpecError, match=r"exceeds .*'s 2048 positions"):
        create_backend(f"hf:{tiny_dir}?ctx=4096", settings)
    with pytest.raises(BackendSpecError, match="whole number"):
        create_backend(f"hf:{tiny_dir}?ctx=big", settings)


def test_a_failed_conversion_leaves_no_half_folder(tmp_path):
    settings = Settings(home=tmp_path / "home")
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF but nothing else")
    with pytest.raises(ModelNotFoundError, match="could not convert"):
        tokenizer_dir(bogus, settings)
    leftovers = [p for p in settings.model_cache_dir.glob("bogus-*/**/*") if p.is_file()]
    assert leftovers == []


@pytest.mark.slow
def test_smollm2_converted_from_its_gguf_answers_and_the_conversion_is_cached(tmp_path):
    settings = Settings(home=tmp_path, threads=2)
    backend = create_backend("hf:smollm2", settings)
    generation = backend.generate([ChatMessage("user", "What is 2+2?")], max_tokens=24)
    assert "4" in generation.text
    assert generation.model == "SmolLM2-135M-Instruct"
    france = [ChatMessage("user", "What is the capital of France? Answer with one word.")]
    paris, banana = backend.score(france, ["Paris", "Banana"]).logprobs
    assert paris > banana + 2
    backend.close()
    # It reads what gguf:smollm2 reads (4,096 tokens, not its 8,192 positions): refused here, unfitted.
    strict = create_backend("hf:smollm2", settings.model_copy(update={"fit_context": False}))
    with pytest.raises(ContextLengthError, match="context of 4096 tokens"):
        strict.score([ChatMessage("user", "word " * 5_000)], ["Paris"])
    strict.close()
    # llama.cpp runs the same weights through quantised kernels: close, but not equal.
    gguf = create_backend("gguf:smollm2", settings)
    assert math.isclose(paris, gguf.score(france, ["Paris"]).logprobs[0], abs_tol=0.3)
    gguf.close()

    folder = safetensors_dir(smollm2_path(), settings)
    weights = folder / "model.safetensors"
    written = weights.stat().st_mtime_ns
    started = time.perf_counter()
    assert safetensors_dir(smollm2_path(), settings) == folder
    assert time.perf_counter() - started < 1
    assert weights.stat().st_mtime_ns == written
    # Only the two finished folders: no staging directory left behind.
    assert sorted(p.name for p in folder.parent.iterdir()) == ["safetensors", "tokenizer"]
