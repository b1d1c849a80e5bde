"""A real OpenAI-compatible HTTP server (llama.cpp's, from xllamacpp) serving SmolLM2 on 127.0.0.1.

Import the fixture into a test module with `from tests.openai_server import openai_server`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest
import xllamacpp

from kgft.backends.gguf_files import smollm2_path

_READY_WITHIN_S = 30.0


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it, then we let it go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(base_url: str) -> None:
    deadline = time.monotonic() + _READY_WITHIN_S
    while True:
        try:
            if httpx.get(f"{base_url}/models", timeout=2.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"llama.cpp server at {base_url} did not answer within {_READY_WITHIN_S:g} s")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def openai_server() -> Iterator[str]:
    """Yields `http://127.0.0.1:PORT/v1`; the server listens for as long as its Server object lives."""
    port = free_port()
    params = xllamacpp.CommonParams()
    params.model.path = str(smollm2_path())
    params.n_ctx = 2048
    # One thread: with two on a two-core machine, any other busy process stalls llama.cpp's
    # spinning thread barrier and a 12-token answer takes seconds instead of 0.2 s.
    params.cpuparams.n_threads = 1
    params.cpuparams_batch.n_threads = 1
    params.warmup = False
    params.verbosity = -1  # silences llama.cpp's load and request logs
    params.hostnames = ["127.0.0.1"]
    params.port = port
    server = xllamacpp.Server(params)
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        _wait_until_ready(base_url)
        yield base_url
    finally:
        del server  # freeing the native server closes its port
