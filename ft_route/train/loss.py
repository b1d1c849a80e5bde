"""The SFT loss without the full-vocabulary logits: only answer positions reach the output layer, and
those in chunks whose gradients are taken on the spot.

A causal LM's stock loss materialises logits for every position (tokens × vocabulary, in fp32 for the
softmax) and keeps them for the backward pass: 16 × 1024 tokens × Qwen2.5's 151,936 entries are 9.3 GiB
before their gradient. That is what ran the 1.5B shape out of memory in the baseline. Here the prompt
positions, which carry no loss, never reach the output layer, and the answer positions go through it a
chunk at a time: each chunk's logits live only long enough to yield its loss and its gradients, the
technique of Liger-Kernel's fused linear cross-entropy (Hsu et al. 2024, arXiv:2410.10989) written in
plain torch, so the same code runs and is tested on CPU.
"""

from __future__ import annotations

from typing import Any

import torch

from ft_route.train.sft_data import IGNORE_INDEX

# Each chunk's fp32 logits, their gradient written over them, and its copy in the compute dtype take at
# most this much fp32 and half again in bf16: 441 rows of Qwen2.5's 151,936-entry vocabulary. Liger sizes
# chunks to the hidden states instead, which on a CPU makes chunks of a few rows, each re-reading the whole
# output layer; a fixed budget keeps the matmuls large on every device and the memory flat in the batch.
CHUNK_LOGITS_BYTES = 256 * 2**20
# Config fields under which a model changes its logits after the output layer (Gemma 2's soft-capping,
# Cohere's and Granite's scaling) or adds a loss of its own (MoE routers): such models keep the stock loss.
_LOGIT_TRANSFORMS = ("final_logit_softcapping", "logit_scale", "logits_scaling", "output_router_logits")


def answer_loss(model: Any, batch: dict[str, torch.Tensor], num_items_in_batch: int) -> torch.Tensor:
    """Summed cross-entropy over the batch's answer tokens divided by `num_items_in_batch`: the value of
    `model(**batch, num_items_in_batch=n).loss`, computed without its full-vocabulary logits.
    """
    causal_lm = causal_lm_of(model)
    if not fusable(causal_lm):
        return model(**batch, use_cache=False, num_items_in_batch=num_items_in_batch).loss
    body_inputs = {name: tensor for name, tensor in batch.items() if name != "labels"}
    hidden = causal_lm.get_decoder()(**body_inputs, use_cache=False).last_hidden_state
    # Position p predicts token p + 1; positions whose next token is a prompt token are dropped here.
    targets = batch["labels"][:, 1:]
    answer = targets != IGNORE_INDEX
    head = causal_lm.get_output_embeddings()
    summed = linear_cross_entropy(hidden[:, :-1][answer], head.weight, targets[answer], head.bias)
    return summed / num_items_in_batch


def causal_lm_of(model: Any) -> Any:
    """The transformers model under a PEFT wrapper, or the model itself when it has none."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


def fusable(causal_lm: Any) -> bool:
    """Whether the model's logits are just its output layer applied to the last hidden state: a plain
    Linear, not one wrapped by an adapter (a LoRA on lm_head), whose own weights the loss would skip.
    """
    config = causal_lm.config
    return (
        hasattr(causal_lm, "get_decoder")
        and isinstance(causal_lm.get_output_embeddings(), torch.nn.Linear)
        and not any(getattr(config, name, None) for name in _LOGIT_TRANSFORMS)
    )


def linear_cross_entropy(
    hidden: torch.Tensor,
    weight: torch.Tensor,
    targets: torch.Tensor,
    bias: torch.Tensor | None = None,
    chunk_rows: int | None = None,
) -> torch.Tensor:
    """Σ cross_entropy(hidden @ weightᵀ + bias, targets), in chunks of rows whose fp32 logits stay under
    CHUNK_LOGITS_BYTES (or of `chunk_rows`), with the matmuls in the autocast dtype when autocast is on.
    """
    if hidden.shape[0] == 0:
        return hidden.float().sum()  # a batch of prompts only: no loss, and no gradient
    compute_dtype = (
        torch.get_autocast_dtype(hidden.device.type)
        if torch.is_autocast_enabled(hidden.device.type)
        else hidden.dtype
    )
    chunk_rows = chunk_rows or max(1, CHUNK_LOGITS_BYTES // (4 * weight.shape[0]))
    # Read here: inside forward grad mode is always off, and needs_input_grad ignores no_grad.
    grad_enabled = torch.is_grad_enabled()
    loss: torch.Tensor = _LinearCrossEntropy.apply(
        hidden, weight, targets, bias, compute_dtype, chunk_rows, grad_enabled
    )
    return loss


class _LinearCrossEntropy(torch.autograd.Function):
    """Forward computes the loss and, chunk by chunk, the gradients it will need; backward scales them."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        hidden: torch.Tensor,
        weight: torch.Tensor,
        targets: torch.Tensor,
        bias: torch.Tensor | None,
        compute_dtype: torch.dtype,
        chunk_rows: int,
        grad_enabled: bool,
    ) -> torch.Tensor:
        want_hidden = grad_enabled and ctx.needs_input_grad[0]
        want_weight = grad_enabled and ctx.needs_input_grad[1]
        want_bias = grad_enabled and bias is not None and ctx.needs_input_grad[3]
        with torch.autocast(hidden.device.type, enabled=False):
            w = weight.to(compute_dtype)
            b = bias.float() if bias is not None else None
            total = torch.zeros((), device=hidden.device, dtype=torch.float32)
            grad_hidden = torch.empty_like(hidden) if want_hidden else None
            grad_weight = (
                torch.zeros(weight.shape, device=weight.device, dtype=torch.float32) if want_weight else None
            )
            grad_bias = (
                torch.zeros(weight.shape[0], device=weight.device, dtype=torch.float32) if want_bias else None
            )
            for start in range(0, hidden.shape[0], chunk_rows):
                rows = hidden[start : start + chunk_rows].to(compute_dtype)
                target = targets[start : start + chunk_rows]
                logits = (rows @ w.T).float()
                if b is not None:
                    logits += b
                log_norm = torch.logsumexp(logits, dim=-1)
                total += (log_norm - logits.gather(1, target[:, None]).squeeze(1)).sum()
                if not (want_hidden or want_weight or want_bias):
                    continue
                # d(Σ loss)/d logits = softmax − one-hot, written over the logits to hold one buffer.
                grad_logits = logits.sub_(log_norm[:, None]).exp_()
                grad_logits[torch.arange(target.shape[0], device=target.device), target] -= 1.0
                if grad_bias is not None:
                    grad_bias += grad_logits.sum(0)
                grad_logits = grad_logits.to(compute_dtype)
                if grad_hidden is not None:
                    grad_hidden[start : start + chunk_rows] = grad_logits @ w
                if grad_weight is not None:
                    grad_weight += (grad_logits.T @ rows).float()
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.weight_dtype = weight.dtype
        return total

    @staticmethod
    def backward(ctx: Any, grad_total: torch.Tensor) -> tuple[torch.Tensor | None, ...]:  # type: ignore[override]
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        scale = grad_total.float()  # scaled in fp32: 1/N rounded to bf16 would bias every gradient
        return (
            (grad_hidden.float() * scale).to(grad_hidden.dtype) if grad_hidden is not None else None,
            (grad_weight * scale).to(ctx.weight_dtype) if grad_weight is not None else None,
            None,
            (grad_bias * scale).to(ctx.weight_dtype) if grad_bias is not None else None,
            None,
            None,
            None,
        )
