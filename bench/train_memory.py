"""Peak memory of one LoRA training step (forward, backward, optimizer step), kgft's trainer step against
the plain HF + PEFT step of /work/shared/bench/plain_peft_baseline.py, at the baseline's shapes and batch.

Why: the FT issue's target is LoRA on the Qwen2.5-1.5B shape at batch 16 × 1024, which the baseline ran
out of GPU memory on, because its stock loss materialises fp32 logits for every position (tokens ×
vocabulary); kgft's answer_loss never does. Each shape × step runs bench/train_throughput.py in a fresh
process, because the CPU figure, ru_maxrss, is a process high-water mark: two configs in one process would
report the larger of the two. That mark includes building the model, so each run also gives the resident
peak of its step alone (step_peak_rss_gb, Linux), which a cut-down model (--layers) needs to show anything.
A process that dies (OOM-killed, CUDA out of memory, over --mem-limit-gb) is recorded, not fatal; on a
shared machine --mem-limit-gb caps each run's address space, so that a run out of memory fails its own
allocation instead of calling the kernel's OOM killer onto the machine.

Usage: python bench/train_memory.py [--models smollm2-135m,qwen2.5-0.5b-like,qwen2.5-1.5b-like]
       [--batch 16] [--seq 1024] [--layers N] [--threads N] [--gradient-checkpointing auto|on|off]
       [--mem-limit-gb G] [--timeout S] [--out bench/results/train_memory.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
THROUGHPUT = ROOT / "bench" / "train_throughput.py"
# The shapes' vocabularies, kept here so that this script needs neither torch nor transformers.
VOCAB = {"smollm2-135m": 49152, "qwen2.5-0.5b-like": 151936, "qwen2.5-1.5b-like": 151936}
STEPS = ("kgft", "plain")
STDERR_TAIL = 4000


def full_logits(shape: str, batch: int, seq: int) -> dict[str, Any]:
    """The fp32 logits the plain step's stock loss builds for every position, one copy: it keeps them and
    their log-softmax for the backward pass, then their gradient, so its peak carries a multiple of this.
    """
    tokens = batch * seq
    return {
        "tokens": tokens,
        "vocab": VOCAB[shape],
        "full_logits_fp32_gb": round(tokens * VOCAB[shape] * 4 / 2**30, 3),
    }


def address_space_cap(gb: float | None) -> Any:
    """A pre-exec hook that caps the child's address space (RLIMIT_AS: virtual memory, which runs about
    0.7 GB above resident memory here, for torch's libraries and threads), or None for no cap.
    """
    if gb is None:
        return None
    limit = int(gb * 2**30)
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def run_one(shape: str, step: str, args: argparse.Namespace) -> dict[str, Any]:
    """One step of one shape in a fresh interpreter; its JSON result, or why it produced none."""
    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        command = [
            sys.executable,
            str(THROUGHPUT),
            "--models",
            shape,
            "--modes",
            "lora",
            "--step",
            step,
            "--batch",
            str(args.batch),
            "--seq",
            str(args.seq),
            "--steps",
            "1",
            "--warmup",
            "0",
            "--gradient-checkpointing",
            args.gradient_checkpointing,
            "--out",
            str(out),
        ]
        if args.layers is not None:
            command += ["--layers", str(args.layers)]
        if args.threads is not None:
            command += ["--threads", str(args.threads)]
        row: dict[str, Any] = {"shape": shape, "step": step}
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=args.timeout,
                preexec_fn=address_space_cap(args.mem_limit_gb),
            )
        except subprocess.TimeoutExpired as expired:
            stderr = expired.stderr or ""  # bytes here even with text=True
            stderr = stderr.decode(errors="replace") if isinstance(stderr, bytes) else stderr
            row.update(ok=False, returncode=None, timed_out=True, stderr_tail=stderr[-STDERR_TAIL:])
            return row
        row["wall_s"] = round(time.perf_counter() - started, 1)
        if done.returncode != 0 or not out.exists():
            # A negative returncode is the signal that ended it: -9 is what the OOM killer sends.
            row.update(ok=False, returncode=done.returncode, stderr_tail=done.stderr[-STDERR_TAIL:])
            return row
        report = json.loads(out.read_text(encoding="utf-8"))
    result = report["results"][0]
    cuda = "peak_mem_gb" in result
    row.update(
        ok=True,
        device=report["device"],
        threads=report["threads"],
        layers=result["layers"],
        peak_gb=result["peak_mem_gb"] if cuda else result["peak_rss_gb"],
        peak_kind="cuda max_memory_allocated" if cuda else "ru_maxrss",
        step_peak_rss_gb=result["step_peak_rss_gb"],
        seconds_per_step=result["seconds_per_step"],
        result=result,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(VOCAB))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=None, help="decoder layers (default: each shape's)")
    parser.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's)")
    parser.add_argument("--gradient-checkpointing", choices=["auto", "on", "off"], default="auto")
    parser.add_argument("--mem-limit-gb", type=float, default=None, help="address-space cap for each run")
    parser.add_argument("--timeout", type=float, default=None, help="seconds allowed to each run")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "train_memory.json")
    args = parser.parse_args()
    shapes = args.models.split(",")
    unknown = [shape for shape in shapes if shape not in VOCAB]
    if unknown:
        parser.error(f"unknown shapes {unknown}; known: {', '.join(VOCAB)}")

    print(f"{'shape':18} {'step':5} {'layers':>6} {'peak GB':>9} {'step GB':>9} {'s/step':>9}", flush=True)
    runs = []
    for shape in shapes:
        for step in STEPS:
            row = run_one(shape, step, args)
            runs.append(row)
            if row["ok"]:
                step_peak = row["step_peak_rss_gb"]
                print(
                    f"{shape:18} {step:5} {row['layers']:>6} {row['peak_gb']:>9.2f} "
                    f"{step_peak if step_peak is not None else '-':>9} {row['seconds_per_step']:>9.2f}",
                    flush=True,
                )
            else:
                why = "timed out" if row.get("timed_out") else f"failed, returncode {row['returncode']}"
                print(f"{shape:18} {step:5} {args.layers or '-':>6} {why}", flush=True)

    logits = {shape: full_logits(shape, args.batch, args.seq) for shape in shapes}
    for shape in shapes:
        ok = {row["step"]: row for row in runs if row["shape"] == shape and row["ok"]}
        line = f"{shape:18} full fp32 logits {logits[shape]['full_logits_fp32_gb']:.2f} GB"
        for key, label in (("peak_gb", "peak"), ("step_peak_rss_gb", "step peak")):
            peaks = [ok[step][key] for step in ("plain", "kgft") if step in ok]
            if len(peaks) == 2 and None not in peaks:
                logits[shape][f"plain_minus_kgft_{key}"] = round(peaks[0] - peaks[1], 3)
                line += f", {label} plain − kgft {peaks[0] - peaks[1]:+.2f} GB"
        print(line, flush=True)
    report = {
        "what": "peak memory of one LoRA training step, kgft's train_step vs plain HF + PEFT, per process",
        "peak_gb": "CPU: ru_maxrss, the process's resident high-water mark (model build included, see "
        "result.peak_rss_setup_gb); CUDA: torch.cuda.max_memory_allocated",
        "step_peak_rss_gb": "resident peak during the step alone (VmHWM reset before it), the model already "
        "resident included; null off Linux",
        "full_logits_fp32_gb": "tokens × vocab × 4 bytes, one copy of the logits the plain step's stock "
        "loss materialises; kgft's answer_loss computes them a chunk at a time",
        "batch": args.batch,
        "seq": args.seq,
        "layers": args.layers,
        "gradient_checkpointing": f"{args.gradient_checkpointing} (kgft step only; auto: on CUDA, off CPU)",
        "mem_limit_gb": args.mem_limit_gb,
        "python": platform.python_version(),
        "shapes": logits,
        "runs": runs,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
