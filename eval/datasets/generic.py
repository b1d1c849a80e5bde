"""The user schema: id?, question, gold|answer, options? (or A..H columns), category?, domain? per row."""

from __future__ import annotations

import json
from typing import Any, cast

from eval.datasets.choices import answer_letters
from eval.items import EvalItem
from kgft.contract import Domain
from kgft.sources.rows import Row

DOMAINS = ("legal", "medical")
_LETTERS = "ABCDEFGH"


class GenericRows:
    """The fallback format: anything that is not a known benchmark's rows."""

    def accepts(self, keys: set[str]) -> bool:
        return True

    def item(self, row: Row, category: str) -> EvalItem:
        question = _text(row, "question")
        if question is None:
            raise row.error("missing 'question' (the schema is id?, question, gold or answer, options?, ...)")
        gold = _text(row, "gold") or _text(row, "answer")
        if gold is None:
            raise row.error("missing 'gold' (or 'answer'): the correct letters, or the reference answer")
        domain = _text(row, "domain") or "legal"
        if domain not in DOMAINS:
            raise row.error(f"'domain' must be one of {', '.join(DOMAINS)}, got {domain!r}")
        options = _options(row)
        if options is not None:
            letters = answer_letters(gold)
            if not letters or not set(letters) <= set(options):
                raise row.error(f"gold {gold!r} must be option letters among {''.join(options)}")
            gold = letters
        item_id = _text(row, "id") or str(row.number)
        category = _text(row, "category") or category
        return EvalItem(item_id, question, gold, cast(Domain, domain), options, category)


def _text(row: Row, key: str) -> str | None:
    value: Any = row.fields.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dict | list):
        raise row.error(f"'{key}' must be text, got {type(value).__name__}")
    return str(value).strip()


def _options(row: Row) -> dict[str, str] | None:
    """A JSON object (or its JSON text, in CSV), else A..H columns; None for an open question."""
    raw = row.fields.get("options")
    if raw is None or raw == "":
        columns = {letter: _text(row, letter) for letter in _LETTERS}
        raw = {letter: text for letter, text in columns.items() if text is not None}
        if not raw:
            return None
    elif isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise row.error(f"'options' is not a JSON object ({exc.msg})") from exc
    if not isinstance(raw, dict):
        raise row.error('\'options\' must be an object like {"A": "...", "B": "..."}')
    bad = [key for key in raw if not (isinstance(key, str) and len(key) == 1 and "A" <= key <= "Z")]
    if bad:
        raise row.error(f"option keys must be single capital letters, got {bad}")
    if len(raw) < 2 or not all(isinstance(text, str) and text.strip() for text in raw.values()):
        raise row.error("'options' needs at least two non-blank option texts")
    return {letter: raw[letter].strip() for letter in sorted(raw)}
