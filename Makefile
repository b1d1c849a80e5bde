# The two commands a new user needs: `make demo` and `make test`. Both install first.
# The demo uses $KGFT_HOME (default ~/.kgft) for its graph.
VENV ?= .venv

.PHONY: install demo test bench lint

install:
	bash scripts/install.sh

demo: install
	$(VENV)/bin/kgft llm --backend gguf:smollm2 "What is 2+2?"
	$(VENV)/bin/kgft ingest legal
	$(VENV)/bin/kgft ask --route kg -o "A=故意杀人的，处死刑、无期徒刑或者十年以上有期徒刑" -o "B=盗窃公私财物，数额较大的" \
		"刑法第二百三十二条规定了什么？"

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

test: install lint
	$(VENV)/bin/pytest

bench: install
	$(VENV)/bin/python bench/llm_backends.py
