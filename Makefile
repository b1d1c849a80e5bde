# The two commands a new user needs: `make demo` and `make test`. Both install first.
VENV ?= .venv

.PHONY: install demo test bench lint

install:
	bash scripts/install.sh

demo: install
	$(VENV)/bin/kgft llm --backend gguf:smollm2 "What is 2+2?"
	$(VENV)/bin/kgft llm --backend gguf:smollm2 --json "What is the capital of France?"

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install lint
	$(VENV)/bin/pytest

bench: install
	$(VENV)/bin/python bench/llm_backends.py
