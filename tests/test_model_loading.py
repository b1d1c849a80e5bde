"""Backends load one at a time (kgft.backends.registry.MODEL_LOADING): transformers' loading is not
thread-safe, and the gateway warms routes up in threads while requests arrive."""

import threading
import time

from kgft.backends import registry
from kgft.backends.registry import create_backend
from kgft.settings import Settings


class SlowBackend:
    """Counts constructors running at once; each takes 50 ms, as a real load takes seconds."""

    running = 0
    most = 0
    guard = threading.Lock()

    def __init__(self, spec, settings):
        with SlowBackend.guard:
            SlowBackend.running += 1
            SlowBackend.most = max(SlowBackend.most, SlowBackend.running)
        time.sleep(0.05)
        with SlowBackend.guard:
            SlowBackend.running -= 1
        self.spec = f"slow:{spec.target}"


def test_backends_built_from_several_threads_load_one_at_a_time(tmp_path, monkeypatch):
    monkeypatch.setitem(registry._SCHEMES, "slow", f"{__name__}:SlowBackend")
    settings = Settings(home=tmp_path)
    built: list[str] = []
    threads = [
        threading.Thread(target=lambda n=n: built.append(create_backend(f"slow:m{n}", settings).spec))
        for n in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert sorted(built) == [f"slow:m{n}" for n in range(4)]
    assert SlowBackend.most == 1
