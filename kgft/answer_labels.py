"""What answered: the model, and the reader and backend a route names in its diagnostics.

Stored on every result row (eval and live), so a report names each route's model and reader from the
rows themselves rather than from settings that may have changed since.
"""

from __future__ import annotations

from typing import Any

from kgft.contract import Answer


def answer_labels(answer: Answer) -> dict[str, Any]:
    labels: dict[str, Any] = {"model": answer.model}
    for key in ("reader", "backend"):
        if isinstance(answer.diagnostics.get(key), str):
            labels[key] = answer.diagnostics[key]
    return labels
