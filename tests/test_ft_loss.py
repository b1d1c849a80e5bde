"""The trainer's fused answer loss gives the stock loss and its gradients without the full logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

from ft_route.records import SFTExample
from ft_route.train.loss import answer_loss, fusable, linear_cross_entropy
from ft_route.train.sft_data import IGNORE_INDEX, TokenRow, packed_batch, padded_batch, tokenize_examples
from tests.tiny_llama import build_tiny_llama


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny") / "model")


def statute_rows(base: Path, count: int = 6) -> tuple[list[TokenRow], int]:
    tokenizer = AutoTokenizer.from_pretrained(base)
    examples = [
        SFTExample(
            id=f"q{n}",
            prompt=f"What does Article {n} say?",
            response=f"Article {n} says pay on time.",
            domain="legal",
            category="statutes",
            source=f"test:{n}",
        )
        for n in range(count)
    ]
    return tokenize_examples(tokenizer, examples, max_seq_len=128).rows, tokenizer.pad_token_id


def lora_model(base: Path) -> torch.nn.Module:
    """A LoRA on every linear layer whose B matrices are non-zero, so every adapter weight gets a gradient."""
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base),
        LoraConfig(r=4, lora_dropout=0.0, target_modules="all-linear"),
    )
    torch.manual_seed(1)
    with torch.no_grad():
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(std=0.1)
    return model


def loss_and_grads(model: torch.nn.Module, loss_of) -> tuple[float, dict[str, torch.Tensor]]:
    model.zero_grad(set_to_none=True)
    loss = loss_of()
    loss.backward()
    grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
    return float(loss), grads


def answer_targets(batch: dict[str, torch.Tensor]) -> int:
    return int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())


@pytest.mark.parametrize("method", ["full", "lora"])
@pytest.mark.parametrize("layout", ["padded", "packed"])
def test_answer_loss_and_its_gradients_equal_the_stock_loss(tiny_base, method, layout):
    rows, pad_id = statute_rows(tiny_base)
    batch = padded_batch(rows, pad_id) if layout == "padded" else packed_batch(rows, 200, pad_id)
    model = lora_model(tiny_base) if method == "lora" else AutoModelForCausalLM.from_pretrained(tiny_base)
    count = answer_targets(batch)

    stock, stock_grads = loss_and_grads(
        model, lambda: model(**batch, use_cache=False, num_items_in_batch=count).loss
    )
    fused, fused_grads = loss_and_grads(model, lambda: answer_loss(model, batch, count))

    assert fused == pytest.approx(stock, rel=1e-5)
    assert fused_grads.keys() == stock_grads.keys()
    assert len(fused_grads) == (28 if method == "lora" else 21)  # 2 layers × 7 × (A, B) / every weight
    for name, grad in stock_grads.items():
        assert torch.allclose(fused_grads[name], grad, rtol=1e-4, atol=1e-6), name


def test_the_chunked_cross_entropy_matches_torch_with_a_bias_and_many_chunks():
    torch.manual_seed(0)
    hidden = torch.randn(300, 16, requires_grad=True)
    weight = torch.randn(1000, 16, requires_grad=True)
    bias = torch.randn(1000, requires_grad=True)
    targets = torch.randint(0, 1000, (300,))

    expected = torch.nn.functional.cross_entropy(hidden @ weight.T + bias, targets, reduction="sum")
    (3 * expected).backward()
    expected_grads = [t.grad.clone() for t in (hidden, weight, bias)]
    for t in (hidden, weight, bias):
        t.grad = None
    got = linear_cross_entropy(hidden, weight, targets, bias, chunk_rows=7)  # 43 chunks, the last short
    (3 * got).backward()  # the upstream gradient scales what forward computed

    assert float(got.detach()) == pytest.approx(float(expected.detach()), rel=1e-6)
    for t, grad in zip((hidden, weight, bias), expected_grads, strict=True):
        assert torch.allclose(t.grad, grad, rtol=1e-4, atol=1e-4)


def test_under_bf16_autocast_the_loss_is_that_of_bf16_logits():
    torch.manual_seed(0)
    hidden, weight = torch.randn(64, 32), torch.randn(500, 32)
    targets = torch.randint(0, 500, (64,))
    logits = (hidden.bfloat16() @ weight.bfloat16().T).float()
    expected = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
    exact = torch.nn.functional.cross_entropy(hidden @ weight.T, targets, reduction="sum")

    with torch.autocast("cpu", dtype=torch.bfloat16):
        got = linear_cross_entropy(hidden, weight, targets)

    assert float(got) == pytest.approx(float(expected), rel=1e-6)
    assert float(got) != pytest.approx(float(exact), rel=1e-6)  # it did not silently stay in fp32


def test_without_gradients_it_only_scores(tiny_base):
    rows, pad_id = statute_rows(tiny_base)
    batch = padded_batch(rows, pad_id)
    model = AutoModelForCausalLM.from_pretrained(tiny_base)
    count = answer_targets(batch)
    with torch.no_grad():
        fused = answer_loss(model, batch, count)
        stock = model(**batch, use_cache=False, num_items_in_batch=count).loss
    assert not fused.requires_grad
    assert float(fused) == pytest.approx(float(stock), rel=1e-5)


def test_a_batch_of_prompts_alone_has_no_loss(tiny_base):
    rows, pad_id = statute_rows(tiny_base)
    batch = padded_batch(rows, pad_id)
    batch["labels"] = torch.full_like(batch["labels"], IGNORE_INDEX)
    model = lora_model(tiny_base)
    loss = answer_loss(model, batch, 1)
    loss.backward()
    assert float(loss) == 0.0
    assert all(float(p.grad.abs().max()) == 0.0 for p in model.parameters() if p.grad is not None)


def test_a_model_that_soft_caps_its_logits_keeps_its_own_loss():
    """Gemma 2 soft-caps logits after the output layer; fusing that away would train on the wrong loss."""
    config = Gemma2Config(
        vocab_size=300,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        final_logit_softcapping=2.0,
    )
    torch.manual_seed(0)
    model = Gemma2ForCausalLM(config)
    with torch.no_grad():
        model.lm_head.weight.normal_(std=1.0)  # logits large enough for the cap to bite
    ids = torch.randint(0, 300, (2, 24))
    labels = ids.clone()
    labels[:, :8] = IGNORE_INDEX
    batch = {"input_ids": ids, "labels": labels}
    count = answer_targets(batch)
    assert not fusable(model)
    with torch.no_grad():
        got = float(answer_loss(model, batch, count))
        stock = float(model(**batch, use_cache=False, num_items_in_batch=count).loss)
        hidden = model.get_decoder()(input_ids=ids).last_hidden_state[:, :-1][labels[:, 1:] != IGNORE_INDEX]
        uncapped = float(
            linear_cross_entropy(hidden, model.lm_head.weight, labels[:, 1:][labels[:, 1:] != IGNORE_INDEX])
        )
    assert got == pytest.approx(stock, rel=1e-6)
    assert uncapped / count != pytest.approx(stock, rel=1e-2)
