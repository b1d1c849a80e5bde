# The two commands a new user needs: `make demo` and `make test`. Both install first.
# The demo uses $KGFT_HOME (default ~/.kgft) for its graph.
VENV ?= .venv

.PHONY: install services demo test bench lint

install:
	bash scripts/install.sh

demo: install
	$(VENV)/bin/kgft demo

# Chromium and a running PostgreSQL for the render and store tests (apt, when root).
services:
	bash scripts/test_services.sh

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install services lint
	$(VENV)/bin/pytest

bench: install
	$(VENV)/bin/python bench/llm_backends.py
