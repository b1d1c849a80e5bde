"""The FT trainer end to end on a tiny LLaMA built in the test: data → model → loop → checkpoint → ledger."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from ft_route.records import DatasetError, SFTExample, data_hash, write_examples
from ft_route.train import ConfigError, TrainConfig, TrainingCard, TrainingError, resolve, train
from ft_route.train import trainer as trainer_module
from ft_route.train.sft_data import (
    IGNORE_INDEX,
    chat_ids,
    collate,
    epoch_batches,
    first_fit,
    packed_batch,
    padded_batch,
    tokenize_examples,
)
from kgft.errors import ModelNotFoundError
from kgft.ledger import Ledger
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.tiny_llama import build_tiny_llama

LAWS = ["Labour Law", "Contract Law", "Civil Code", "Criminal Law"]
RULES = [
    "workers have the right to rest",
    "a contract binds both parties",
    "a debt must be paid on time",
    "theft is punished by law",
    "a minor needs a guardian",
    "the court hears both sides",
    "wages are paid in money",
    "a promise in writing is valid",
]


def statute_examples(count: int = 32) -> list[SFTExample]:
    return [
        SFTExample(
            id=f"q{n}",
            prompt=f"What does Article {n} of the {LAWS[n % 4]} say?",
            response=f"Article {n} says {RULES[n % 8]}.",
            domain="legal",
            category=LAWS[n % 4],
            source=f"test:{n}",
        )
        for n in range(count)
    ]


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("data")
    write_examples(folder / "train.jsonl", statute_examples(32))
    write_examples(folder / "eval.jsonl", statute_examples(40)[32:])
    return folder


def tiny_config(base: Path, **overrides) -> TrainConfig:
    """The LoRA preset scaled to the tiny model: a high lr so a few dozen steps visibly learn."""
    values = dict(base=str(base), learning_rate=1e-2, batch_size=4, grad_accum=1, max_seq_len=128, seed=0)
    return resolve("lora", **(values | overrides))


def settings_for(home: Path) -> Settings:
    # One thread: a 32-wide model gains nothing from two, and loses a lot on shared, busy cores.
    return Settings(home=home, threads=1, device="cpu")


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_base, dataset) -> tuple[TrainingCard, Path, Settings]:
    home = tmp_path_factory.mktemp("home")
    out = tmp_path_factory.mktemp("runs") / "lora"
    settings = settings_for(home)
    card = train(tiny_config(tiny_base, steps=40), dataset, out, settings, PriceBook.load(), progress=False)
    return card, out, settings


def test_lora_training_lowers_the_loss(lora_run):
    card, _, _ = lora_run
    losses = [loss for _, loss in card.loss.curve]
    first, last = sum(losses[:5]) / 5, sum(losses[-5:]) / 5
    assert card.steps == 40
    assert last < 0.6 * first, (first, last)
    assert card.eval_loss is not None and card.eval_loss < card.loss.first


def test_lora_run_writes_the_adapter_and_a_card_that_says_what_was_learned(lora_run, dataset, tiny_base):
    card, out, _ = lora_run
    assert (out / "adapter" / "adapter_config.json").is_file()
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
    assert TrainingCard.read(out) == card
    assert card.data_hash == data_hash(dataset / "train.jsonl")
    assert card.base_path == str(tiny_base)
    assert card.output == "adapter"
    assert (card.train_examples, card.eval_examples) == (32, 8)
    assert card.hyperparameters["learning_rate"] == 1e-2
    assert card.hyperparameters["lora_r"] == 16 and card.hyperparameters["total_steps"] == 40
    assert card.epochs == 5.0  # 40 steps × 4 examples / 32
    assert 0 < card.trainable_params < card.total_params
    assert card.device == "cpu" and card.threads == 1
    assert card.tokens > card.answer_tokens > 0
    assert card.tokens_per_s > 0 and card.device_seconds >= card.train_seconds > 0
    assert card.priced and Decimal(card.cost_usd) > 0
    # Periodic checkpoints are not due within 40 steps at the preset's save_every=100.
    assert not (out / "checkpoints").exists()


def test_lora_run_is_in_the_ledger_with_its_seconds_and_dollars(lora_run):
    card, out, settings = lora_run
    [entry] = Ledger(settings.ledger_path).entries()
    assert (entry.route, entry.kind) == ("ft", "training_run")
    assert entry.meta["status"] == "completed" and entry.meta["preset"] == "lora"
    assert entry.meta["out"] == str(out) and entry.meta["trial"] is False
    assert entry.seconds >= card.train_seconds > 0
    assert entry.tokens == card.tokens
    assert entry.priced and entry.cost_usd > 0
    assert "core" in entry.basis


def test_labels_cover_only_the_answer_and_its_end_of_turn(tiny_base):
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    example = statute_examples(3)[2]
    [row] = tokenize_examples(tokenizer, [example], max_seq_len=256).rows
    trained = [token for token, label in zip(row.input_ids, row.labels, strict=True) if label != IGNORE_INDEX]
    masked = [token for token, label in zip(row.input_ids, row.labels, strict=True) if label == IGNORE_INDEX]
    assert tokenizer.decode(trained) == f"{example.response}<|im_end|>\n"
    assert tokenizer.decode(masked).endswith(f"{example.prompt}<|im_end|>\n<|im_start|>assistant\n")
    assert row.labels[len(masked) :] == row.input_ids[len(masked) :]


def test_a_reasoning_trace_is_trained_between_its_delimiters_before_the_answer(tiny_base):
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    example = replace(statute_examples(1)[0], reasoning="Article 0 is about rest.")
    _, answer = chat_ids(tokenizer, example, think_open="<think>\n", think_close="\n</think>\n")
    expected = "<think>\nArticle 0 is about rest.\n</think>\nArticle 0 says workers have the right to rest."
    assert tokenizer.decode(answer) == f"{expected}<|im_end|>\n"


def test_long_answers_are_cut_and_prompts_that_leave_no_room_dropped(tiny_base):
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    examples = statute_examples(2)
    prompt_len = len(chat_ids(tokenizer, examples[0])[0])
    tokenized = tokenize_examples(tokenizer, examples[:1], max_seq_len=prompt_len + 3)
    assert tokenized.truncated == 1 and tokenized.rows[0].answer_tokens == 3
    with pytest.raises(DatasetError, match="max_seq_len"):
        tokenize_examples(tokenizer, examples, max_seq_len=prompt_len)


def test_packed_rows_score_exactly_like_padded_rows(tiny_base):
    """Packing changes the layout, not the maths: no example may attend across a boundary."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    model = AutoModelForCausalLM.from_pretrained(tiny_base).eval()
    rows = tokenize_examples(tokenizer, statute_examples(5), max_seq_len=128).rows
    assert all(60 < len(row.input_ids) < 100 for row in rows)
    padded = padded_batch(rows, tokenizer.pad_token_id)
    packed = packed_batch(rows, max_seq_len=200, pad_id=tokenizer.pad_token_id)
    assert packed["input_ids"].shape[0] == 3  # two examples to a row, the fifth alone and padded
    assert packed["input_ids"].shape[1] <= 200
    with torch.no_grad():
        loss_padded = model(**padded, use_cache=False).loss
        loss_packed = model(**packed, use_cache=False).loss
    assert torch.allclose(loss_padded, loss_packed, atol=1e-5)


def test_a_step_loss_is_the_mean_over_all_answer_tokens_however_they_are_split(tiny_base):
    """Gradient accumulation must not turn the mean of a step into a sum or a mean of means."""
    from ft_route.train.setup import build_optimizer, build_scheduler, load_model
    from ft_route.train.trainer import train_step

    config = tiny_config(tiny_base, lora_dropout=0.0, learning_rate=1e-9)
    tokenizer, model = load_model(tiny_base, config, torch.device("cpu"))
    rows = tokenize_examples(tokenizer, statute_examples(6), max_seq_len=128).rows
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, total_steps=10)
    with torch.no_grad():
        whole = float(model(**padded_batch(rows, tokenizer.pad_token_id), use_cache=False).loss)
    split = [padded_batch(rows[:1], 0), padded_batch(rows[1:], 0)]
    result = train_step(model, optimizer, scheduler, split, max_grad_norm=1.0)
    assert result.loss == pytest.approx(whole, rel=1e-5)
    assert result.answer_tokens == sum(row.answer_tokens for row in rows)


def test_packing_fills_each_micro_batch_to_its_token_budget_without_splitting_examples():
    lengths = [30, 50, 20, 60, 10, 40]
    batches = epoch_batches(lengths, batch_size=1, max_seq_len=100, packing=True, seed=0, epoch=0)
    assert sorted(i for batch in batches for i in batch) == list(range(6))
    assert all(sum(lengths[i] for i in batch) <= 100 for batch in batches)
    assert len(batches) < 6
    # However short the examples, a packed micro-batch never has more than batch_size rows.
    lengths = [256, 129, 129, 129, 129, 129, 40]
    batches = epoch_batches(lengths, batch_size=4, max_seq_len=256, packing=True, seed=0, epoch=0)
    assert sorted(i for batch in batches for i in batch) == list(range(7))
    assert all(len(first_fit([lengths[i] for i in batch], 256)) <= 4 for batch in batches)
    # Epochs reshuffle; the same (seed, epoch) always gives the same order.
    assert epoch_batches(lengths, batch_size=2, max_seq_len=100, packing=False, seed=0, epoch=1) == (
        epoch_batches(lengths, batch_size=2, max_seq_len=100, packing=False, seed=0, epoch=1)
    )


def test_packed_training_runs_and_counts_no_padding(tmp_path, tiny_base, dataset):
    config = tiny_config(tiny_base, steps=3, packing=True, max_seq_len=200)
    card = train(config, dataset, tmp_path / "out", settings_for(tmp_path), PriceBook.load(), progress=False)
    assert card.hyperparameters["packing"] is True and card.examples_truncated == 0
    # A step is 4 rows of 200 tokens: 60-to-100-token examples go two to a row, 8 a step, not 4 as padded.
    assert card.epochs == 3 * 8 / 32
    assert 3 * 8 * 60 < card.tokens < 3 * 8 * 100  # the examples' own tokens: padding is not counted


def test_packing_refuses_flash_attention_which_would_mix_the_examples_of_a_row(tiny_base):
    from ft_route.train.setup import prepare_model

    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(TrainingError, match="sdpa"):
        prepare_model(model, tiny_config(tiny_base, packing=True), torch.device("cpu"))


@pytest.mark.parametrize("method", ["lora", "full"])
def test_resumed_run_ends_where_an_uninterrupted_run_ends(tmp_path, tiny_base, dataset, monkeypatch, method):
    prices = PriceBook.load()
    settings = settings_for(tmp_path / "home")
    lr = 1e-2 if method == "lora" else 1e-3
    config = tiny_config(tiny_base, steps=6, save_every=3, method=method, learning_rate=lr)
    straight = train(config, dataset, tmp_path / "straight", settings, prices, progress=False)

    real_step = trainer_module.train_step
    calls = []

    def interrupted_at_step_5(*args, **kwargs):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "train_step", interrupted_at_step_5)
    with pytest.raises(KeyboardInterrupt):
        train(config, dataset, tmp_path / "resumed", settings, prices, progress=False)
    monkeypatch.setattr(trainer_module, "train_step", real_step)
    assert [p.name for p in (tmp_path / "resumed" / "checkpoints").iterdir()] == ["step-3"]
    resumed = train(
        replace(config, resume=True), dataset, tmp_path / "resumed", settings, prices, progress=False
    )

    assert resumed.resumed_from_step == 3 and resumed.steps == 6
    assert resumed.loss.last == pytest.approx(straight.loss.last, rel=1e-5)
    assert resumed.tokens == straight.tokens
    weights = "adapter/adapter_model.safetensors" if method == "lora" else "model/model.safetensors"
    a, b = load_file(tmp_path / "straight" / weights), load_file(tmp_path / "resumed" / weights)
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    statuses = [(e.meta["status"], e.meta["steps"]) for e in Ledger(settings.ledger_path).entries()]
    assert statuses == [("completed", 6), ("aborted", 4), ("completed", 6)]
    aborted = Ledger(settings.ledger_path).entries()[1]
    assert aborted.seconds > 0 and aborted.cost_usd > 0


def test_full_fine_tune_writes_a_model_that_loads_and_has_moved(tmp_path, tiny_base, dataset):
    config = tiny_config(tiny_base, method="full", steps=4, learning_rate=1e-3)
    card = train(config, dataset, tmp_path / "out", settings_for(tmp_path), PriceBook.load(), progress=False)
    assert card.method == "full" and card.output == "model"
    assert card.trainable_params == card.total_params
    assert "lora_r" not in card.hyperparameters
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "out" / "model")
    base = AutoModelForCausalLM.from_pretrained(tiny_base)
    assert not torch.equal(tuned.model.layers[0].mlp.up_proj.weight, base.model.layers[0].mlp.up_proj.weight)
    assert AutoTokenizer.from_pretrained(tmp_path / "out" / "model").chat_template is not None


def test_a_run_that_fails_midway_is_ledgered_as_failed_and_reported_in_one_line(
    tmp_path, tiny_base, dataset, monkeypatch
):
    def out_of_memory(*args, **kwargs):
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB\nmore details")

    monkeypatch.setattr(trainer_module, "train_step", out_of_memory)
    settings = settings_for(tmp_path / "home")
    config = tiny_config(tiny_base, steps=5, trial=True)
    with pytest.raises(TrainingError, match=r"^training failed at step 1: CUDA out of memory[^\n]*$"):
        train(config, dataset, tmp_path / "out", settings, PriceBook.load(), progress=False)
    [entry] = Ledger(settings.ledger_path).entries()
    assert entry.meta["status"] == "failed" and entry.meta["trial"] is True
    assert entry.meta["error"].startswith("CUDA out of memory")
    assert entry.seconds > 0 and entry.cost_usd > 0


def test_a_diverging_loss_stops_the_run_and_is_ledgered(tmp_path, tiny_base, dataset):
    settings = settings_for(tmp_path / "home")
    config = tiny_config(tiny_base, steps=10, learning_rate=1e30, warmup_ratio=0.0, max_grad_norm=1e30)
    with pytest.raises(TrainingError, match="lower the learning rate"):
        train(config, dataset, tmp_path / "out", settings, PriceBook.load(), progress=False)
    assert [e.meta["status"] for e in Ledger(settings.ledger_path).entries()] == ["failed"]


def test_bad_inputs_fail_at_once_with_one_line_and_cost_nothing(tmp_path, tiny_base, dataset):
    settings, prices = settings_for(tmp_path / "home"), PriceBook.load()
    with pytest.raises(ModelNotFoundError, match="base model not found"):
        train(tiny_config(tmp_path / "nowhere"), dataset, tmp_path / "o", settings, prices)
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "train.jsonl").write_text("\n")
    with pytest.raises(DatasetError, match="holds no examples"):
        train(tiny_config(tiny_base), tmp_path / "empty", tmp_path / "o", settings, prices)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "train.jsonl").write_text('{"id": "1", "question": "?"}\n')
    with pytest.raises(DatasetError, match=r"train.jsonl:1: not an SFT example"):
        train(tiny_config(tiny_base), tmp_path / "bad", tmp_path / "o", settings, prices)
    with pytest.raises(DatasetError, match="not found"):
        train(tiny_config(tiny_base), tmp_path / "missing", tmp_path / "o", settings, prices)
    (tmp_path / "o" / "checkpoints" / "step-3").mkdir(parents=True)
    (tmp_path / "o" / "checkpoints" / "step-3" / "trainer_state.json").write_text("{}")
    with pytest.raises(TrainingError, match="--resume"):
        train(tiny_config(tiny_base), dataset, tmp_path / "o", settings, prices)
    assert Ledger(settings.ledger_path).entries() == []


def test_presets_are_the_published_recipes_and_take_overrides():
    s1 = resolve("s1")
    assert (s1.method, s1.learning_rate, s1.epochs, s1.schedule) == ("full", 1e-5, 5, "cosine")
    assert (s1.warmup_ratio, s1.weight_decay, s1.adam_betas, s1.max_seq_len) == (
        0.05,
        1e-4,
        (0.9, 0.95),
        32768,
    )
    assert s1.batch_size * s1.grad_accum == 16
    lora = resolve("lora", steps=7, epochs=None, learning_rate=1e-4)
    assert (lora.lora_r, lora.lora_alpha, lora.lora_dropout, lora.lora_targets) == (
        16,
        32,
        0.05,
        "all-linear",
    )
    assert (lora.steps, lora.epochs, lora.learning_rate, lora.warmup_ratio) == (7, 3, 1e-4, 0.03)
    assert resolve("full").method == "full"
    with pytest.raises(ConfigError, match="unknown preset"):
        resolve("qlora")
    with pytest.raises(ConfigError, match="unknown training option"):
        resolve("lora", lr=1)
    with pytest.raises(ConfigError, match="batch_size"):
        resolve("lora", batch_size=0)


def test_collate_pads_on_the_right_and_masks_padding():
    from ft_route.train.sft_data import TokenRow

    rows = [TokenRow([5, 6, 7], [IGNORE_INDEX, 6, 7]), TokenRow([5, 6], [IGNORE_INDEX, 6])]
    batch = collate(rows, packing=False, max_seq_len=8, pad_id=0)
    assert batch["input_ids"].tolist() == [[5, 6, 7], [5, 6, 0]]
    assert batch["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [IGNORE_INDEX, 6, IGNORE_INDEX]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    packed = collate(rows, packing=True, max_seq_len=5, pad_id=0)
    assert packed["input_ids"].tolist() == [[5, 6, 7, 5, 6]] and "attention_mask" not in packed
    assert packed["position_ids"].tolist() == [[0, 1, 2, 0, 1]]
    # Rows of 4: one example each; the shorter row's padding restarts the positions, a segment of its own.
    packed = collate(rows, packing=True, max_seq_len=4, pad_id=0)
    assert packed["input_ids"].tolist() == [[5, 6, 7], [5, 6, 0]]
    assert packed["labels"].tolist() == [[IGNORE_INDEX, 6, 7], [IGNORE_INDEX, 6, IGNORE_INDEX]]
    assert packed["position_ids"].tolist() == [[0, 1, 2], [0, 1, 0]]


@pytest.mark.slow
@pytest.mark.parametrize("checkpointing", [False, True])  # True: the GPU default
def test_compiled_layers_train_as_the_eager_ones_do(tmp_path, tiny_base, dataset, checkpointing):
    """torch.compile changes how the layers run, not what they compute (≈1 min of compiling on CPU)."""
    config = tiny_config(tiny_base, steps=4, lora_dropout=0.0, gradient_checkpointing=checkpointing)
    settings, prices = settings_for(tmp_path), PriceBook.load()
    eager = train(config, dataset, tmp_path / "eager", settings, prices, progress=False)
    compiled_config = replace(config, compile=True)
    compiled = train(compiled_config, dataset, tmp_path / "compiled", settings, prices, progress=False)
    assert compiled.hyperparameters["compile"] is True
    assert [loss for _, loss in compiled.loss.curve] == pytest.approx(
        [loss for _, loss in eager.loss.curve], rel=1e-4
    )
    assert compiled.eval_loss == pytest.approx(eager.eval_loss, rel=1e-4)


@pytest.mark.slow
def test_smollm2_lora_trains_a_few_steps_on_cpu(tmp_path, dataset):
    settings = Settings(home=tmp_path / "home", threads=2, device="cpu")
    config = resolve("lora", base="smollm2", steps=4, batch_size=2, grad_accum=1, max_seq_len=128)
    card = train(config, dataset, tmp_path / "out", settings, PriceBook.load(), progress=False)
    assert card.base_model == "SmolLM2-135M-Instruct" and card.steps == 4
    assert card.loss.last < card.loss.first * 1.5 and card.eval_loss is not None
    assert (tmp_path / "out" / "adapter" / "adapter_model.safetensors").is_file()
    print(
        f"SmolLM2 LoRA on CPU: {card.tokens_per_s} tokens/s, {card.train_seconds} s for {card.tokens} tokens"
    )


def test_a_refresh_run_trains_on_from_the_earlier_adapter(lora_run, tmp_path, tiny_base, dataset):
    card, out, _ = lora_run
    settings = settings_for(tmp_path / "home")
    refreshed = train(
        tiny_config(tiny_base, steps=4, init_adapter=str(out)), dataset, tmp_path / "refresh", settings,
        PriceBook.load(), progress=False,
    )  # fmt: skip

    # It starts where the earlier run ended, not from a fresh LoRA's loss.
    assert refreshed.loss.first < 0.8 * card.loss.first, (refreshed.loss.first, card.loss.first)
    assert refreshed.hyperparameters["init_adapter"] == str(out)
    [entry] = Ledger(settings.ledger_path).entries()
    assert entry.meta["refresh_of"] == str(out)
    assert (tmp_path / "refresh" / "adapter" / "adapter_model.safetensors").is_file()
    not_an_adapter = tiny_config(tiny_base, steps=1, init_adapter=str(tmp_path))
    with pytest.raises(TrainingError, match=r"no adapter_config\.json"):
        train(not_an_adapter, dataset, tmp_path / "bad", settings, PriceBook.load(), progress=False)
