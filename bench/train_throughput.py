"""Training throughput of kgft's trainer step (or the plain PEFT loop it is compared with), in tokens/s,
MFU and $ per 1M training tokens, on LLaMA-shaped models with random weights; writes JSON.

Usage: python bench/train_throughput.py [--models smollm2-135m,qwen2.5-0.5b-like,qwen2.5-1.5b-like]
       [--modes lora,full] [--batch B] [--seq T] [--steps N] [--warmup N] [--step kgft|plain] [--compile]
       [--layers N] [--gradient-checkpointing auto|on|off] [--threads N] [--peak-tflops X]
       [--price-device NAME] [--out FILE]

FLOPs per token follow /work/shared/bench/plain_peft_baseline.py so the figures compare: full fine-tuning
6N, LoRA 4N (no gradients for the frozen base weights), plus attention 12·L·d·T, with N every base
parameter of the model built (embeddings tied, counted once), L its layers (--layers, to fit a shape's
step into a small machine, changes both), d the hidden size and T the sequence length.

Memory: peak_mem_gb on CUDA (torch's allocator, reset per config); peak_rss_gb everywhere, the process's
resident high-water mark (ru_maxrss), which carries over from one config to the next: it is one config's
peak only when one config runs per process, as bench/train_memory.py does, and it includes building the
model. On Linux step_peak_rss_gb is the resident peak of the timed steps alone (VmHWM, reset before them
through /proc/self/clear_refs), which the build's peak cannot mask when a cut-down model (--layers) is
measured.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from ft_route.train import resolve
from ft_route.train.setup import build_optimizer, build_scheduler, prepare_model, weights_dtype
from ft_route.train.trainer import train_step
from kgft.pricing import PriceBook, money

# The shapes of the baseline's models; random weights, so no download.
SHAPES: dict[str, dict[str, int]] = {
    "smollm2-135m": dict(
        hidden_size=576,
        intermediate_size=1536,
        num_hidden_layers=30,
        num_attention_heads=9,
        num_key_value_heads=3,
        vocab_size=49152,
    ),
    "qwen2.5-0.5b-like": dict(
        hidden_size=896,
        intermediate_size=4864,
        num_hidden_layers=24,
        num_attention_heads=14,
        num_key_value_heads=2,
        vocab_size=151936,
    ),
    "qwen2.5-1.5b-like": dict(
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        vocab_size=151936,
    ),
}
H100_BF16_DENSE_FLOPS = 989e12  # the baseline's default peak (H100 SXM spec sheet)


def flops_per_token(mode: str, base_params: int, layers: int, hidden: int, seq: int) -> int:
    return (6 if mode == "full" else 4) * base_params + 12 * layers * hidden * seq


def model_shape(model_name: str, layers: int | None) -> dict[str, int]:
    """The named shape, with `layers` decoder layers instead of its own when given."""
    shape = dict(SHAPES[model_name])
    if layers is not None:
        shape["num_hidden_layers"] = layers
    return shape


def peak_rss_gb() -> float:
    """The process's resident high-water mark so far: ru_maxrss is KiB on Linux, bytes on macOS."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (2**30 if sys.platform == "darwin" else 2**20), 3)


def reset_rss_peak() -> bool:
    """Restart the resident high-water mark (Linux ≥ 4.0: VmHWM and ru_maxrss), so that what follows is
    measured on its own; False where the kernel offers no such reset.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def proc_status_gb(field: str) -> float | None:
    """A memory line of /proc/self/status (VmRSS now, VmHWM its peak), in GiB; None off Linux."""
    try:
        lines = Path("/proc/self/status").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 2**20, 3)  # "VmHWM:  123456 kB"
    return None


def random_batch(vocab: int, batch: int, seq: int, device: torch.device) -> dict[str, Any]:
    """Every token trained on, as in the baseline: full rows, so packing would lay out the same batch."""
    ids = torch.randint(0, vocab, (batch, seq), device=device)
    return {"input_ids": ids, "labels": ids, "attention_mask": torch.ones_like(ids)}


def kgft_step(model_name: str, mode: str, args: argparse.Namespace, device: torch.device) -> Any:
    """The trainer's own pieces: its precision rule, LoRA/full preparation, optimiser, schedule and step."""
    checkpointing = {"auto": None, "on": True, "off": False}[args.gradient_checkpointing]
    # LoRA as the baseline configures it (PEFT's default dropout 0): the preset's 0.05 dropout alone costs
    # about a fifth of the CPU step (167 vs 218 tok/s on the SmolLM2 shape), which is not the step's doing.
    config = resolve(
        "lora" if mode == "lora" else "full",
        batch_size=args.batch,
        max_seq_len=args.seq,
        gradient_checkpointing=checkpointing,
        compile=args.compile,
        lora_dropout=0.0,
    )
    shape = model_shape(model_name, args.layers)
    model = LlamaForCausalLM(_llama_config(shape)).to(weights_dtype(config, device))
    base_params = sum(p.numel() for p in model.parameters())
    model = prepare_model(model, config, device)
    optimizer = build_optimizer(model, config)
    scheduler = build_scheduler(optimizer, config, total_steps=args.warmup + args.steps)
    batch = random_batch(shape["vocab_size"], args.batch, args.seq, device)

    def step() -> None:
        train_step(
            model,
            optimizer,
            scheduler,
            [batch],
            max_grad_norm=config.max_grad_norm,
            bf16=device.type == "cuda",
        )

    return step, base_params


def plain_step(model_name: str, mode: str, args: argparse.Namespace, device: torch.device) -> Any:
    """The baseline's loop: bf16 weights on GPU, LoRA r=16 on the 7 projections, AdamW, no clipping."""
    from peft import LoraConfig, get_peft_model

    shape = model_shape(model_name, args.layers)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    model: Any = LlamaForCausalLM(_llama_config(shape)).to(device, dtype=dtype)
    base_params = sum(p.numel() for p in model.parameters())
    if mode == "lora":
        targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    ids = torch.randint(0, shape["vocab_size"], (args.batch, args.seq), device=device)

    def step() -> None:
        model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step, base_params


def measure(model_name: str, mode: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    build = kgft_step if args.step == "kgft" else plain_step
    step, base_params = build(model_name, mode, args, device)
    for _ in range(args.warmup):
        step()
    _sync(device)
    setup_rss = peak_rss_gb()
    rss_before = proc_status_gb("VmRSS")
    resettable = reset_rss_peak()
    started = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync(device)
    seconds_per_step = (time.perf_counter() - started) / args.steps
    step_peak = proc_status_gb("VmHWM") if resettable else None
    tokens_per_s = args.batch * args.seq / seconds_per_step
    shape = model_shape(model_name, args.layers)
    layers = shape["num_hidden_layers"]
    per_token = flops_per_token(mode, base_params, layers, shape["hidden_size"], args.seq)
    peak = args.peak_tflops * 1e12 if args.peak_tflops else None
    cores = torch.get_num_threads() if device.type == "cpu" else 1
    million = PriceBook.load().compute_cost(args.price_device, 1_000_000 / tokens_per_s, cores=cores)
    result: dict[str, Any] = {
        "model": model_name,
        "mode": mode,
        "step": args.step,
        "compiled": args.compile,
        "batch": args.batch,
        "seq": args.seq,
        "layers": layers,
        "params_m": round(base_params / 1e6, 1),
        "seconds_per_step": round(seconds_per_step, 4),
        "tokens_per_s": round(tokens_per_s, 1),
        "flops_per_token": per_token,
        "achieved_tflops": round(tokens_per_s * per_token / 1e12, 3),
        "mfu": round(tokens_per_s * per_token / peak, 4) if peak else None,
        "usd_per_1m_tokens": str(million.runtime_usd.quantize(Decimal("1e-6"))),
        "usd_basis": million.basis,
        "priced": million.priced,
        # High-water marks of the whole process: before the timed steps (model, optimiser, batch, warmup)
        # and after them; the per-config figures only when this config is the process's first and only.
        "peak_rss_setup_gb": setup_rss,
        "peak_rss_gb": max(setup_rss, peak_rss_gb()),  # max: reset_rss_peak restarts ru_maxrss too
        # Resident memory when the timed steps start, and its peak during them alone (Linux).
        "rss_before_steps_gb": rss_before,
        "step_peak_rss_gb": step_peak,
    }
    if device.type == "cuda":
        result["peak_mem_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
        torch.cuda.reset_peak_memory_stats()
    return result


def _llama_config(shape: dict[str, int]) -> LlamaConfig:
    return LlamaConfig(
        **shape, max_position_embeddings=4096, attn_implementation="sdpa", tie_word_embeddings=True
    )


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    on_gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(SHAPES))
    parser.add_argument("--modes", default="lora,full")
    parser.add_argument("--batch", type=int, default=16 if on_gpu else 1)
    parser.add_argument("--seq", type=int, default=1024 if on_gpu else 128)
    parser.add_argument("--steps", type=int, default=10 if on_gpu else 2)
    parser.add_argument("--warmup", type=int, default=3 if on_gpu else 1)
    parser.add_argument("--step", choices=["kgft", "plain"], default="kgft")
    parser.add_argument("--layers", type=int, default=None, help="decoder layers (default: the shape's)")
    parser.add_argument("--compile", action="store_true", help="kgft step with its decoder layers compiled")
    parser.add_argument("--gradient-checkpointing", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--device", default="cuda" if on_gpu else "cpu")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--peak-tflops", type=float, default=H100_BF16_DENSE_FLOPS / 1e12 if on_gpu else None)
    parser.add_argument("--price-device", default="h100" if on_gpu else "cpu", help="a PriceBook device")
    parser.add_argument("--out", type=Path, default=Path("bench/results/train_throughput.json"))
    args = parser.parse_args()
    if args.compile and args.step == "plain":
        parser.error("--compile measures the kgft step only")
    if args.layers is not None and args.layers < 1:
        parser.error("--layers must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    results = []
    for model_name in args.models.split(","):
        for mode in args.modes.split(","):
            torch.manual_seed(0)
            result = measure(model_name, mode, args, device)
            print(
                f"{model_name:18} {mode:4} {result['tokens_per_s']:>10,.0f} tok/s  "
                f"MFU {result['mfu'] if result['mfu'] is not None else '-'}  "
                f"{money(Decimal(result['usd_per_1m_tokens']))}/1M tokens",
                flush=True,
            )
            results.append(result)
            if device.type == "cuda":
                torch.cuda.empty_cache()
    report = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.processor() or "cpu",
        "threads": torch.get_num_threads() if device.type == "cpu" else None,
        "torch": torch.__version__,
        "peak_tflops": args.peak_tflops,
        "flops_per_token": "full 6N, LoRA 4N, + 12·L·d·T attention (plain_peft_baseline.py)",
        "peak_rss_gb": "ru_maxrss, the process's high-water mark: per config only with one config a process",
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
