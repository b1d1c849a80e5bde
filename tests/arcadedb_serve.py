"""ArcadeDB with its Bolt plugin, run as a child process by tests/graph_servers.py until stdin closes.

A child, not the test process: the JVM that arcadedb_embedded starts in-process crashes the
interpreter at exit (SIGSEGV in PyObject_RichCompare), and a child also dies with a killed pytest.
Usage: python arcadedb_serve.py ROOT BOLT_PORT HTTP_PORT PASSWORD DATABASE
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from arcadedb_embedded import ArcadeDBServer


def main(root: Path, bolt_port: int, http_port: int, password: str, database: str) -> None:
    server = ArcadeDBServer(
        str(root / "databases"),
        root_password=password,
        config={
            "host": "127.0.0.1",
            "http_port": http_port,
            "server_plugins": "Bolt:com.arcadedb.bolt.BoltProtocolPlugin",
            "bolt_port": bolt_port,
            "bolt_defaultDatabase": database,
        },
        jvm_kwargs={"heap_size": "1g"},
    )
    server.start()
    server.create_database(database)
    (root / "ready").touch()
    sys.stdin.read()
    server.stop()
    os._exit(0)  # skips the interpreter teardown that the JVM crashes


if __name__ == "__main__":
    root, bolt_port, http_port, password, database = sys.argv[1:6]
    main(Path(root), int(bolt_port), int(http_port), password, database)
