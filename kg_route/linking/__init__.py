"""Entity linking for the KG route: question text → graph node ids, with no LLM call."""

from kg_route.linking.linker import ArticleKey, EntityLinker, Link, NameEntry
from kg_route.linking.numerals import ArticleRef, find_article_refs, int_to_zh, zh_to_int

__all__ = [
    "ArticleKey",
    "ArticleRef",
    "EntityLinker",
    "Link",
    "NameEntry",
    "find_article_refs",
    "int_to_zh",
    "zh_to_int",
]
