"""GGUF → transformers folders, converted once and cached, so torch backends can load a GGUF model.

transformers reads GGUF but will not save a GGUF-loaded model, so the weights are dequantised into a
fresh model and written as safetensors. Each result is renamed into place only when complete.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from kgft.errors import ModelNotFoundError
from kgft.settings import Settings

_HASH_CHARS = 12
# Written beside the weights: what the conversion took, so the build that first uses it can book it.
CONVERSION_FILE = "kgft_conversion.json"


def tokenizer_dir(gguf_path: Path, settings: Settings) -> Path:
    """A folder with only the tokenizer files (seconds to build): enough to count and score tokens."""

    def write(folder: Path) -> None:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        tokenizer.save_pretrained(folder)

    return _cached(gguf_path, settings, "tokenizer", f"Extracting the tokenizer from {gguf_path.name}", write)


def safetensors_dir(gguf_path: Path, settings: Settings) -> Path:
    """A full transformers folder (config, fp32 safetensors, tokenizer) dequantised from the GGUF."""
    tokenizer_folder = tokenizer_dir(gguf_path, settings)

    def write(folder: Path) -> None:
        from transformers import AutoModelForCausalLM

        loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        config = loaded.config
        # The GGUF quantisation config is what makes transformers refuse to serialise the model.
        del config.quantization_config
        # from_config re-ties lm_head to the embeddings when the config says so (SmolLM2 does).
        fresh = AutoModelForCausalLM.from_config(config)
        fresh.load_state_dict(loaded.state_dict())
        fresh.save_pretrained(folder, safe_serialization=True)
        for tokenizer_file in tokenizer_folder.iterdir():
            shutil.copy2(tokenizer_file, folder / tokenizer_file.name)

    status = f"Converting {gguf_path.name} to safetensors (once, then cached)"
    return _cached(gguf_path, settings, "safetensors", status, write)


def _cached(
    gguf_path: Path, settings: Settings, kind: str, status: str, write: Callable[[Path], None]
) -> Path:
    """Return the cached folder, or build it in a temporary sibling and rename it into place."""
    final = _model_cache(gguf_path, settings) / kind
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{kind}-", dir=final.parent))
    try:
        started = time.perf_counter()
        with Console(stderr=True).status(status):
            write(staging)
        record = {"source": str(gguf_path), "kind": kind, "seconds": round(time.perf_counter() - started, 3)}
        (staging / CONVERSION_FILE).write_text(json.dumps(record), "utf-8")
        staging.rename(final)
    except Exception as exc:
        if final.is_dir():  # another process finished the same conversion first
            return final
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelNotFoundError(f"could not convert {gguf_path} for transformers: {reason}") from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return final


def _model_cache(gguf_path: Path, settings: Settings) -> Path:
    """`<stem>-<hash>`: a replaced or edited GGUF at the same path gets a fresh conversion."""
    try:
        stat = gguf_path.stat()
    except OSError as exc:
        raise ModelNotFoundError(f"GGUF model file not found: {gguf_path}") from exc
    key = f"{gguf_path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:_HASH_CHARS]
    return settings.model_cache_dir / f"{gguf_path.stem}-{digest}"
