"""Real graph engines for tests: embedded Ladybug, ArcadeDB speaking Bolt, Neo4j where Docker runs.

Registered for every test module by tests/conftest.py. `graph_store` runs a test once per engine.
"""

from __future__ import annotations

import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import httpx
import neo4j
import pytest
from testcontainers.community.neo4j import Neo4jContainer

from kg_route.store import open_store
from kgft.graph_store import GraphStore

_READY_WITHIN_S = 60.0
_STOP_WITHIN_S = 30.0
_NEO4J_IMAGE = "neo4j:5"
_SERVE = Path(__file__).with_name("arcadedb_serve.py")


@dataclass(frozen=True)
class BoltServer:
    """Where a Bolt server listens; `url` reaches its default database."""

    url: str
    user: str
    password: str
    http_url: str = ""

    def admin(self, command: str) -> None:
        """An ArcadeDB server command (`create database x`) over its HTTP API."""
        reply = httpx.post(
            f"{self.http_url}/api/v1/server",
            json={"command": command},
            auth=(self.user, self.password),
            timeout=_STOP_WITHIN_S,
        )
        reply.raise_for_status()


def free_port() -> int:
    """A port nobody listens on right now (the OS picks it, then we let it go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_until_ready(child: subprocess.Popen[bytes], ready: Path, log: Path) -> None:
    deadline = time.monotonic() + _READY_WITHIN_S
    while not ready.exists():
        if child.poll() is not None:
            raise RuntimeError(
                f"ArcadeDB exited with {child.returncode}: {log.read_text(errors='replace')[-2000:]}"
            )
        if time.monotonic() > deadline:
            raise RuntimeError(f"ArcadeDB was not ready within {_READY_WITHIN_S:g} s; see {log}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def arcadedb_bolt_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BoltServer]:
    """ArcadeDB + Bolt on 127.0.0.1, once per session, with an empty default database."""
    root = tmp_path_factory.mktemp("arcadedb")
    bolt_port, http_port = free_port(), free_port()
    password = secrets.token_hex(8)  # ArcadeDB wants at least 8 characters
    log = root / "server.log"
    with log.open("wb") as log_file:
        child = subprocess.Popen(
            [sys.executable, str(_SERVE), str(root), str(bolt_port), str(http_port), password, "kgft"],
            stdin=subprocess.PIPE,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=root,  # ArcadeDB writes ./log wherever it runs
        )
    try:
        _wait_until_ready(child, root / "ready", log)
        yield BoltServer(f"bolt://127.0.0.1:{bolt_port}", "root", password, f"http://127.0.0.1:{http_port}")
    finally:
        assert child.stdin is not None
        child.stdin.close()
        try:
            child.wait(_STOP_WITHIN_S)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()


@pytest.fixture(scope="session")
def neo4j_bolt_url() -> Iterator[BoltServer]:
    """Neo4j 5 in a container where a Docker engine answers; the test is skipped elsewhere."""
    try:
        docker.from_env().ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    try:
        container = Neo4jContainer(_NEO4J_IMAGE).start()
    except docker.errors.DockerException as exc:  # e.g. the image cannot be pulled from here
        pytest.skip(f"cannot start {_NEO4J_IMAGE}: {exc}")
    try:
        yield BoltServer(container.get_connection_url(), container.username, container.password)
    finally:
        container.stop()


@pytest.fixture
def ladybug_url(tmp_path: Path) -> str:
    return f"ladybug:{tmp_path / 'graph.lbug'}"


@contextmanager
def _ladybug_store(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    store = open_store(request.getfixturevalue("ladybug_url"), None, None)
    try:
        yield store
    finally:
        store.close()


@contextmanager
def _arcadedb_store(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    server: BoltServer = request.getfixturevalue("arcadedb_bolt_url")
    database = f"t{uuid.uuid4().hex}"  # a new database per test costs ~50 ms, no wipe needed
    server.admin(f"create database {database}")
    store = open_store(f"{server.url}/{database}", server.user, server.password)
    try:
        yield store
    finally:
        store.close()
        server.admin(f"drop database {database}")


@contextmanager
def _neo4j_store(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    server: BoltServer = request.getfixturevalue("neo4j_bolt_url")
    # Community Neo4j serves one database: empty it, constraint included, instead.
    with neo4j.GraphDatabase.driver(server.url, auth=(server.user, server.password)) as driver:
        driver.execute_query("MATCH (n) DETACH DELETE n")
        driver.execute_query("DROP CONSTRAINT node_id IF EXISTS")
    store = open_store(server.url, server.user, server.password)
    try:
        yield store
    finally:
        store.close()


_ENGINES = {"ladybug": _ladybug_store, "arcadedb": _arcadedb_store, "neo4j": _neo4j_store}


@pytest.fixture(params=list(_ENGINES))
def graph_store(request: pytest.FixtureRequest) -> Iterator[GraphStore]:
    """A fresh, empty store (no schema yet) on each engine; a server starts only when a test asks."""
    with _ENGINES[request.param](request) as store:
        yield store
