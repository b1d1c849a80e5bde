"""Tokens/s and time to first token for a 64-token answer on each local backend; writes JSON.

Usage: python bench/llm_backends.py [--backends gguf:smollm2,hf:smollm2] [--runs 5] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

from kgft.backends import ChatMessage, create_backend
from kgft.settings import Settings

PROMPT = [ChatMessage("user", "Write a long story about a lighthouse keeper and a storm.")]
ANSWER_TOKENS = 64


def bench_backend(spec: str, settings: Settings, runs: int) -> dict:
    load_started = time.perf_counter()
    backend = create_backend(spec, settings)
    load_s = time.perf_counter() - load_started
    backend.generate(PROMPT, max_tokens=8, on_text=lambda _: None)  # warm-up: first-call allocations
    samples = []
    for _ in range(runs):
        generation = backend.generate(PROMPT, max_tokens=ANSWER_TOKENS, on_text=lambda _: None)
        ttft_ms = generation.first_token_ms or 0.0
        decode_s = (generation.generation_ms - ttft_ms) / 1000
        samples.append(
            {
                "completion_tokens": generation.completion_tokens,
                "ttft_ms": round(ttft_ms, 1),
                "total_ms": round(generation.generation_ms, 1),
                # the first token comes out of prefill; the other n-1 are decode steps
                "decode_tokens_per_s": round((generation.completion_tokens - 1) / decode_s, 1),
                "end_to_end_tokens_per_s": round(
                    generation.completion_tokens / (generation.generation_ms / 1000), 1
                ),
            }
        )
    backend.close()
    return {
        "backend": spec,
        "prompt_tokens": generation.prompt_tokens,
        "load_s": round(load_s, 2),
        "runs": samples,
        "median_ttft_ms": statistics.median(s["ttft_ms"] for s in samples),
        "median_decode_tokens_per_s": statistics.median(s["decode_tokens_per_s"] for s in samples),
        "median_end_to_end_tokens_per_s": statistics.median(s["end_to_end_tokens_per_s"] for s in samples),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="gguf:smollm2,hf:smollm2")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench/results/llm_backends.json"))
    args = parser.parse_args()
    settings = Settings()
    results = [bench_backend(spec, settings, args.runs) for spec in args.backends.split(",")]
    report = {
        "benchmark": "llm_backends",
        "answer_tokens": ANSWER_TOKENS,
        "threads": settings.threads,
        "note": "same prompt every run: llama.cpp reuses its KV cache for it, so gguf TTFT is warm-cache",
        "machine": {"cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
