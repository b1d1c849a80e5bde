"""Does the fine-tune beat its base on held-out data? Paired per-example loss with a bootstrap 95% CI.

For each held-out example (eval.jsonl of a `kgft ft data` folder) both models score the reference answer
after the question; the figure is the mean negative log-likelihood per character, base minus tuned
(positive = the tuned model finds the right answers more likely). Writes JSON.

Usage: python bench/ft_quality.py --data DIR --adapter RUN_DIR [--base smollm2] [--limit N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

from ft_route.records import ADAPTER_DIR, EVAL_FILE, TRAINING_CARD, read_examples
from kgft.backends import ChatMessage, create_backend
from kgft.settings import Settings

BOOTSTRAP_SAMPLES = 10_000
SEED = 0


def nll_per_char(spec: str, examples: list, settings: Settings) -> list[float]:
    backend = create_backend(spec, settings)
    losses = []
    for example in examples:
        scoring = backend.score([ChatMessage("user", example.prompt)], [example.response])
        losses.append(-scoring.logprobs[0] / max(1, len(example.response)))
    backend.close()
    return losses


def paired_bootstrap(differences: list[float]) -> tuple[float, float]:
    rng = random.Random(SEED)
    means = sorted(
        statistics.fmean(rng.choices(differences, k=len(differences))) for _ in range(BOOTSTRAP_SAMPLES)
    )
    return means[int(0.025 * BOOTSTRAP_SAMPLES)], means[int(0.975 * BOOTSTRAP_SAMPLES) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--adapter", type=Path, required=True, help="a `kgft ft train` output folder")
    parser.add_argument("--base", default="smollm2")
    parser.add_argument("--limit", type=int, default=50)
    parser.add_argument("--out", type=Path, default=Path("bench/results/ft_quality.json"))
    args = parser.parse_args()
    settings = Settings()
    examples = list(read_examples(args.data / EVAL_FILE))[: args.limit]
    base = nll_per_char(f"hf:{args.base}", examples, settings)
    tuned = nll_per_char(f"hf:{args.base}?adapter={args.adapter / ADAPTER_DIR}", examples, settings)
    differences = [b - t for b, t in zip(base, tuned, strict=True)]
    low, high = paired_bootstrap(differences)
    card = json.loads((args.adapter / TRAINING_CARD).read_text("utf-8"))
    report = {
        "benchmark": "ft_quality",
        "held_out": str(args.data / EVAL_FILE),
        "examples": len(examples),
        "train_data_hash": card["data_hash"],
        "base_nll_per_char": round(statistics.fmean(base), 4),
        "tuned_nll_per_char": round(statistics.fmean(tuned), 4),
        "improvement": round(statistics.fmean(differences), 4),
        "improvement_ci95": [round(low, 4), round(high, 4)],
        "tuned_better_on": sum(d > 0 for d in differences),
        "ci_excludes_zero": low > 0 or high < 0,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
