"""The FT route served from a real training output folder: a tiny LLaMA, a LoRA on it, a training card."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ft_route.records import ADAPTER_DIR, MODEL_DIR, TRAINING_CARD
from ft_route.serve.budget_forcing import BudgetForcer, ThinkingBudget
from ft_route.serve.factory import build_route
from kgft import trained_model
from kgft.backends import ChatMessage
from kgft.backends.scoring_ids import render_chat, scoring_ids
from kgft.contract import GenerationParams, Question, Route, Turn
from kgft.errors import KgftError
from kgft.letter_answers import MAX_REPLY_TOKENS
from kgft.pricing import PriceBook
from kgft.settings import Settings
from tests.tiny_llama import build_tiny_llama, save_lora_adapter

DATA_HASH = "ab" * 32
OPEN = Question(id="q1", text="What is the capital of France?", domain="legal")
MCQ = Question(
    id="q2",
    text="What is the capital of France?",
    domain="legal",
    options={"A": "Paris", "B": "The patient takes aspirin.", "C": "Hello"},
)
PROMPT = [ChatMessage("user", OPEN.text)]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return build_tiny_llama(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def trained_dir(tiny_dir, tmp_path_factory):
    """A LoRA training output folder; B matrices are non-zero so the adapter really changes the model."""
    folder = tmp_path_factory.mktemp("trained")
    save_lora_adapter(tiny_dir, folder / ADAPTER_DIR)
    card = {"base_model": str(tiny_dir), "data_hash": DATA_HASH}
    (folder / TRAINING_CARD).write_text(json.dumps(card), "utf-8")
    return folder


@pytest.fixture(scope="module")
def prices() -> PriceBook:
    return PriceBook.load()


def _settings(tmp_path, trained_dir, **budgets) -> Settings:
    return Settings(ft_model=trained_dir, home=tmp_path, threads=1, max_tokens=8, **budgets)


def test_open_question_is_generated_priced_by_seconds_and_names_its_training(
    tmp_path, tiny_dir, trained_dir, prices
):
    route = build_route(_settings(tmp_path, trained_dir), prices)
    answer = route.answer(OPEN)
    assert isinstance(route, Route)
    assert answer.route == "ft"
    assert answer.model == f"{tiny_dir.name}+{ADAPTER_DIR}"
    assert answer.text and not answer.abstained
    assert answer.citations == []
    assert answer.usage.prompt_tokens > 0
    assert answer.usage.completion_tokens == 8  # a random model never ends its turn, so it hits max_tokens
    assert answer.usage.reasoning_tokens == 0  # both budgets 0: no thinking
    assert answer.cost == prices.compute_cost("auto", answer.timings.generation_ms / 1000, cores=1)
    assert answer.cost.priced and " s × " in answer.cost.basis
    assert answer.diagnostics["data_hash"] == DATA_HASH
    assert answer.diagnostics["base_model"] == str(tiny_dir)
    assert "thinking" not in answer.diagnostics


def test_mcq_scores_the_options_with_the_question_alone(tmp_path, tiny_dir, trained_dir, prices):
    route = build_route(_settings(tmp_path, trained_dir), prices)
    answer = route.answer(MCQ)
    scores = answer.diagnostics["option_scores"]
    assert set(scores) == {"A", "B", "C"}
    assert answer.choice == max(scores, key=scores.get)
    assert answer.text == f"{answer.choice}. {MCQ.options[answer.choice]}"
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    prompt_ids, targets = scoring_ids(tokenizer, PROMPT, list(MCQ.options.values()))
    assert answer.usage.prompt_tokens == len(prompt_ids) + sum(map(len, targets))
    assert answer.usage.completion_tokens == 0
    assert answer.cost == prices.compute_cost("auto", answer.timings.generation_ms / 1000, cores=1)
    assert answer.cost.priced
    assert answer.diagnostics["data_hash"] == DATA_HASH


def test_mcq_mode_generate_asks_the_fine_tuned_model_for_the_letter(tmp_path, trained_dir, prices):
    route = build_route(_settings(tmp_path, trained_dir, mcq_mode="generate"), prices)
    answer = route.answer(MCQ)
    assert answer.diagnostics["mcq_mode"] == "generate" and "reply" in answer.diagnostics
    assert answer.diagnostics["data_hash"] == DATA_HASH
    # a random tiny model writes no letter, or one by chance: an abstention or a letter, never a guess
    if answer.abstained:
        assert answer.choice is None and answer.text == "" and answer.abstain_reason
    else:
        assert answer.choice in MCQ.options
    assert 0 < answer.usage.completion_tokens <= MAX_REPLY_TOKENS
    assert answer.cost == prices.compute_cost("auto", answer.timings.generation_ms / 1000, cores=1)
    assert answer.cost.priced


def test_batch_answers_each_question_in_order(tmp_path, trained_dir, prices):
    route = build_route(_settings(tmp_path, trained_dir), prices)
    open_answer, mcq_answer = route.answer_batch([OPEN, MCQ])
    assert open_answer.choice is None and open_answer.usage.completion_tokens == 8
    assert mcq_answer.choice in MCQ.options


def test_max_thinking_tokens_stop_the_thinking_and_the_answer_still_comes(
    tmp_path, tiny_dir, trained_dir, prices
):
    route = build_route(_settings(tmp_path, trained_dir, ft_max_thinking_tokens=5), prices)
    answer = route.answer(OPEN)
    assert answer.usage.reasoning_tokens == 5
    assert answer.diagnostics["thinking_stopped_by_budget"] is True
    assert answer.diagnostics["waits"] == 0
    assert answer.text
    # Completion = 5 thinking + the injected "\n</think>\n" + max_tokens of answer (never ended).
    assert not answer.diagnostics["thinking"].endswith("\n")
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    bridge = len(tokenizer("\n</think>\n", add_special_tokens=False)["input_ids"])
    assert answer.usage.completion_tokens == 5 + bridge + 8
    assert answer.cost == prices.compute_cost("auto", answer.timings.generation_ms / 1000, cores=1)


def test_streamed_pieces_join_to_the_answer_a_whole_call_gives(tmp_path, trained_dir, prices):
    route = build_route(_settings(tmp_path, trained_dir), prices)
    pieces: list[str] = []
    streamed = route.answer_streaming(OPEN, pieces.append)
    assert len(pieces) > 1 and "".join(pieces) == streamed.text == route.answer(OPEN).text
    picked: list[str] = []
    assert [route.answer_streaming(MCQ, picked.append).text] == picked


def test_budget_forcing_streams_the_answer_not_the_thinking_and_counts_it_the_same(
    tmp_path, trained_dir, prices
):
    route = build_route(_settings(tmp_path, trained_dir, ft_max_thinking_tokens=5), prices)
    pieces: list[str] = []
    streamed = route.answer_streaming(OPEN, pieces.append)
    whole = route.answer(OPEN)
    assert len(pieces) > 1 and "".join(pieces) == streamed.text == whole.text
    assert streamed.diagnostics["thinking"] == whole.diagnostics["thinking"]
    assert streamed.usage == whole.usage and streamed.usage.reasoning_tokens == 5


@pytest.fixture(scope="module")
def tiny_model(tiny_dir):
    torch.set_num_threads(1)
    return AutoModelForCausalLM.from_pretrained(tiny_dir).eval(), AutoTokenizer.from_pretrained(tiny_dir)


def _think(tiny_model, budget: ThinkingBudget):
    model, tokenizer = tiny_model
    return BudgetForcer(model, tokenizer, budget, "tiny").generate(PROMPT, max_answer_tokens=4)


def _greedy_thinking(tiny_model, tokens: int) -> list[int]:
    """transformers' own greedy decoding from the thinking prompt, as the reference."""
    model, tokenizer = tiny_model
    prompt_text = render_chat(tokenizer, PROMPT) + "<think>\n"
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    output = model.generate(torch.tensor([prompt_ids]), max_new_tokens=tokens, do_sample=False)
    return output[0, len(prompt_ids) :].tolist()


def test_the_cached_loop_thinks_exactly_like_greedy_generate(tiny_model):
    thought = _think(tiny_model, ThinkingBudget(max_tokens=12))
    assert thought.thinking == tiny_model[1].decode(_greedy_thinking(tiny_model, 12))


def test_min_thinking_tokens_answer_an_early_stop_with_wait(tiny_model):
    # Make the model stop thinking early: two clean tokens it writes greedily become the end delimiter.
    tokenizer = tiny_model[1]
    ids = _greedy_thinking(tiny_model, 20)
    texts = [tokenizer.decode([token]) for token in ids]
    clean = [bool(text.strip()) and text.isprintable() and "\ufffd" not in text for text in texts]
    at = next(i for i in range(len(ids) - 1) if clean[i] and clean[i + 1])
    close = texts[at] + texts[at + 1]
    early = _think(tiny_model, ThinkingBudget(max_tokens=40, close=close))
    assert early.generation.reasoning_tokens == at
    assert early.waits == 0 and not early.stopped_by_budget

    forced = _think(tiny_model, ThinkingBudget(max_tokens=40, min_tokens=20, close=close))
    assert forced.waits >= 1
    # The delimiter's first token, already in the cache when the second completed it, was taken back out.
    assert forced.thinking.startswith(tokenizer.decode(ids[:at]) + "Wait")
    assert close not in forced.thinking
    assert forced.generation.reasoning_tokens >= 20
    assert forced.generation.completion_tokens > forced.generation.reasoning_tokens


def test_a_card_from_kgft_ft_train_sets_the_base_folder_and_the_trained_format(
    tmp_path, tiny_dir, trained_dir, prices
):
    shutil.copytree(trained_dir / ADAPTER_DIR, tmp_path / ADAPTER_DIR)
    card = {
        "base_model": "tiny",  # a name; base_path is the folder it was loaded from
        "base_path": str(tiny_dir),
        "output": ADAPTER_DIR,
        "data_hash": DATA_HASH,
        "hyperparameters": {"think_open": "<r>", "think_close": "</r>", "system_prompt": "Be brief."},
    }
    (tmp_path / TRAINING_CARD).write_text(json.dumps(card))
    route = build_route(_settings(tmp_path, tmp_path, ft_max_thinking_tokens=3), prices)
    assert route.backend.spec.startswith(f"hf:{tiny_dir}?adapter=")
    assert (route.forcer.budget.open, route.forcer.budget.close) == ("<r>", "</r>")
    tokenizer = AutoTokenizer.from_pretrained(tiny_dir)
    chat = [ChatMessage("system", "Be brief."), *PROMPT]
    prompt_ids = tokenizer(render_chat(tokenizer, chat) + "<r>", add_special_tokens=False)["input_ids"]
    assert route.answer(OPEN).usage.prompt_tokens == len(prompt_ids)


def test_a_full_fine_tune_loads_from_model_folder(tmp_path, tiny_dir, prices):
    shutil.copytree(tiny_dir, tmp_path / MODEL_DIR)
    (tmp_path / TRAINING_CARD).write_text(json.dumps({"base_model": "smollm2", "data_hash": DATA_HASH}))
    route = build_route(_settings(tmp_path, tmp_path), prices)
    assert route.backend.spec == f"hf:{tmp_path / MODEL_DIR}"
    assert route.answer(OPEN).diagnostics["base_model"] == "smollm2"


def test_a_model_that_says_nothing_abstains_and_is_still_priced(tmp_path, tiny_dir, prices):
    model = AutoModelForCausalLM.from_pretrained(tiny_dir)
    with torch.no_grad():
        model.lm_head.weight.zero_()  # all logits 0: greedy picks id 0, the padding token, decoded as ""
    model.save_pretrained(tmp_path / MODEL_DIR)
    AutoTokenizer.from_pretrained(tiny_dir).save_pretrained(tmp_path / MODEL_DIR)
    (tmp_path / TRAINING_CARD).write_text(json.dumps({"base_model": str(tiny_dir), "data_hash": DATA_HASH}))
    answer = build_route(_settings(tmp_path, tmp_path), prices).answer(OPEN)
    assert answer.abstained and answer.abstain_reason == "the model gave no answer"
    assert answer.text == ""
    assert answer.cost.priced and answer.usage.completion_tokens == 8


def test_no_model_and_no_default_folder_says_how_to_get_one(tmp_path, prices, monkeypatch):
    monkeypatch.setattr(trained_model, "SHIPPED_MODEL_DIR", tmp_path / "absent")
    with pytest.raises(KgftError, match=r"kgft ft train.*KGFT_FT_MODEL") as error:
        build_route(Settings(ft_model=None, home=tmp_path, threads=1), prices)
    assert "\n" not in str(error.value)


def test_a_folder_without_a_training_card_is_refused(tmp_path, trained_dir, prices):
    shutil.copytree(trained_dir / ADAPTER_DIR, tmp_path / ADAPTER_DIR)
    with pytest.raises(KgftError, match=f"has no {TRAINING_CARD}"):
        build_route(_settings(tmp_path, tmp_path), prices)


def test_a_minimum_above_the_maximum_is_refused(tmp_path, trained_dir, prices):
    settings = _settings(tmp_path, trained_dir, ft_max_thinking_tokens=5, ft_min_thinking_tokens=10)
    with pytest.raises(KgftError, match="exceeds the thinking cap"):
        build_route(settings, prices)


def test_the_conversation_follows_the_trained_system_prompt_and_params_reach_the_model(
    tmp_path, trained_dir, prices, monkeypatch
):
    route = build_route(_settings(tmp_path, trained_dir), prices)
    route.trained = dataclasses.replace(route.trained, system_prompt="You answer from training.")
    sent: list[tuple[list[ChatMessage], dict]] = []
    generate = route.backend.generate

    def recording(messages, **kwargs):
        sent.append((list(messages), kwargs))
        return generate(messages, **kwargs)

    monkeypatch.setattr(route.backend, "generate", recording)
    question = OPEN.model_copy(
        update={
            "history": [
                Turn(role="system", content="Be brief."),
                Turn(role="user", content="Hello"),
                Turn(role="assistant", content="Hi."),
            ],
            "params": GenerationParams(max_tokens=3, temperature=0.5, top_p=0.9, seed=1),
        }
    )
    answer = route.answer(question)
    (messages, kwargs) = sent[0]
    assert messages == [
        ChatMessage("system", "You answer from training.\n\nBe brief."),
        ChatMessage("user", "Hello"),
        ChatMessage("assistant", "Hi."),
        ChatMessage("user", OPEN.text),
    ]
    assert (kwargs["max_tokens"], kwargs["temperature"], kwargs["top_p"], kwargs["seed"]) == (3, 0.5, 0.9, 1)
    assert answer.usage.completion_tokens == 3  # the asker's budget, not the route's 8
