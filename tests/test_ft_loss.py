"""The trainer's fused answer loss gives the stock loss and its gradients without the full logits."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

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
            response=f"Article {n} says pay on time." + " It also binds the heirs." * (n % 3),
            domain="legal",
            category="statutes",
            source=f"test:{n}",
        )
        for n in range(count)
    ]
    return tokenize_examples(tokenizer, examples, max_seq_len=128).rows, tokenizer.pad_token_id


def lora_model(base: Path, targets: str | list[str] = "all-linear") -> torch.nn.Module:
    """A LoRA whose B matrices are non-zero, so every adapter weight gets a gradient."""
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(base), LoraConfig(r=4, lora_dropout=0.0, target_modules=targets)
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


def model_for(base: Path, method: str) -> torch.nn.Module:
    if method == "lora":
        return lora_model(base)
    if method == "full":
        return AutoModelForCausalLM.from_pretrained(base)
    # SmolLM2 and Qwen2.5 tie the output layer to the embeddings: both paths then feed one weight's gradient.
    config = AutoConfig.from_pretrained(base)
    config.tie_word_embeddings = True
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    assert model.lm_head.weight is model.get_input_embeddings().weight
    return model


@pytest.mark.parametrize("method", ["full", "full-tied", "lora"])
@pytest.mark.parametrize("layout", ["padded", "packed"])
def test_answer_loss_and_its_gradients_equal_the_stock_loss(tiny_base, method, layout):
    rows, pad_id = statute_rows(tiny_base)
    assert len({len(row.input_ids) for row in rows}) == 3  # padded rows, and packed rows with a pad tail
    batch = padded_batch(rows, pad_id) if layout == "padded" else packed_batch(rows, 150, pad_id)
    if layout == "packed":
        assert batch["input_ids"].shape[0] > 1 and (batch["labels"][:, -1] == IGNORE_INDEX).any()
    model = model_for(tiny_base, method)
    count = answer_targets(batch)

    stock, stock_grads = loss_and_grads(
        model, lambda: model(**batch, use_cache=False, num_items_in_batch=count).loss
    )
    fused, fused_grads = loss_and_grads(model, lambda: answer_loss(model, batch, count))

    assert fused == pytest.approx(stock, rel=1e-5)
    assert fused_grads.keys() == stock_grads.keys()
    expected = {"lora": 28, "full": 21, "full-tied": 20}[method]  # 2 layers × 7 × (A, B) / every weight
    assert len(fused_grads) == expected
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


def test_without_gradients_it_only_scores():
    """Under no_grad (evaluation) a trainable output layer must not cost its gradient's matmuls."""
    hidden, targets = torch.randn(64, 32), torch.randint(0, 500, (64,))
    weight = torch.randn(500, 32, requires_grad=True)  # full fine-tuning: the output layer trains
    logits_flops = 2 * 64 * 32 * 500
    with torch.no_grad(), FlopCounterMode(display=False) as scoring:
        scored = linear_cross_entropy(hidden, weight, targets)
    with FlopCounterMode(display=False) as training:
        linear_cross_entropy(hidden, weight, targets)
    assert not scored.requires_grad
    assert scoring.get_total_flops() == logits_flops
    assert training.get_total_flops() == 2 * logits_flops  # the weight's gradient, taken in forward
    expected = torch.nn.functional.cross_entropy(hidden @ weight.detach().T, targets, reduction="sum")
    assert float(scored) == pytest.approx(float(expected), rel=1e-6)


def test_a_lora_on_the_output_layer_keeps_the_stock_loss(tiny_base):
    """The fused loss reads the output layer's own weight; an adapter on it must not be skipped."""
    rows, pad_id = statute_rows(tiny_base)
    batch = padded_batch(rows, pad_id)
    model = lora_model(tiny_base, ["q_proj", "lm_head"])
    count = answer_targets(batch)
    stock, stock_grads = loss_and_grads(
        model, lambda: model(**batch, use_cache=False, num_items_in_batch=count).loss
    )
    fused, fused_grads = loss_and_grads(model, lambda: answer_loss(model, batch, count))
    assert any("lm_head.lora_B" in name for name in fused_grads)
    assert fused == pytest.approx(stock, rel=1e-6) and fused_grads.keys() == stock_grads.keys()


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
