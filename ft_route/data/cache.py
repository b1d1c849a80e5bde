"""A resumable per-example cache: one JSON line per finished item, appended as soon as it is done.

Model passes (difficulty scoring, distillation) are the slow, paid part of a build; a crash or Ctrl-C
must cost only the item in flight. A line counts only for the same example text and the same model.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ft_route.records import SFTExample


def example_key(example: SFTExample) -> str:
    """Ids are positions in a file; the key also pins the text, so an edited source is redone."""
    return hashlib.sha256(f"{example.prompt}\n\x00{example.response}".encode()).hexdigest()[:16]


class ExampleCache:
    def __init__(self, path: Path, model: str):
        self.path = path
        self.model = model
        self._rows: dict[str, dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text("utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by a crash: that item is simply done again
                if isinstance(row, dict) and row.get("model") == model:
                    self._rows[f"{row.get('id')}\n{row.get('key')}"] = row

    def get(self, example: SFTExample) -> dict[str, Any] | None:
        return self._rows.get(f"{example.id}\n{example_key(example)}")

    def put(self, example: SFTExample, values: dict[str, Any]) -> None:
        row = {"id": example.id, "key": example_key(example), "model": self.model, **values}
        self._rows[f"{example.id}\n{row['key']}"] = row
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
