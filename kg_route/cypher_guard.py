"""Only bounded reads reach the graph: a model-written Cypher query is checked before it runs.

The check is lexical and errs towards refusing: comments are dropped first (so `DE/* */LETE` or a
keyword after `//` cannot hide), string literals are blanked (so `name = 'CREATE'` is no write), and
what is left must hold no updating or administrative clause, no procedure outside a read allow-list,
no APOC and no second statement. A query with no LIMIT after its last RETURN gets one.
"""

from __future__ import annotations

import re

from kgft.errors import KgftError

DEFAULT_LIMIT = 50
# Schema look-ups a model may ask for; every other procedure (db.*, dbms.*, apoc.*, gds.*) is refused.
READ_PROCEDURES = frozenset({"db.labels", "db.relationshiptypes", "db.propertykeys"})

_WRITES = re.compile(
    r"\b(CREATE|MERGE|DELETE|DETACH|SET|REMOVE|DROP|LOAD|FOREACH|INSERT|ALTER|GRANT|DENY|REVOKE|RENAME"
    r"|USE|SHOW|TRANSACTIONS|START\s+DATABASE|STOP\s+DATABASE|TERMINATE)\b",
    re.IGNORECASE,
)
_APOC = re.compile(r"\bapoc\b", re.IGNORECASE)
_CALL = re.compile(r"\bCALL\b", re.IGNORECASE)
_PROCEDURE = re.compile(r"[\w.]+")
_RETURN = re.compile(r"\bRETURN\b", re.IGNORECASE)
_LIMIT = re.compile(r"(?<!\.)\bLIMIT\b", re.IGNORECASE)  # `n.limit` is a property, not a clause
_QUOTES = "'\""


class UnsafeCypherError(KgftError):
    """A query that is not one bounded read; it is never sent to the graph."""


def read_only_cypher(cypher: str, default_limit: int = DEFAULT_LIMIT) -> str:
    """The query to run: `cypher` without comments and with a LIMIT, or UnsafeCypherError saying why not."""
    cleaned, scanned = _strip(cypher)
    cleaned, scanned = cleaned.strip(), scanned.strip()
    # One trailing `;` is harmless; any other starts a second statement.
    if scanned.endswith(";") and cleaned.endswith(";"):
        cleaned, scanned = cleaned[:-1].rstrip(), scanned[:-1].rstrip()
    if not scanned:
        raise UnsafeCypherError("empty query")
    if ";" in scanned:
        raise UnsafeCypherError("more than one statement")
    if write := _WRITES.search(scanned):
        raise UnsafeCypherError(f"not read-only: {' '.join(write.group(0).upper().split())}")
    if _APOC.search(scanned):
        raise UnsafeCypherError("APOC is not allowed")
    for call in _CALL.finditer(scanned):
        rest = scanned[call.end() :].lstrip()
        if rest.startswith(("{", "(")):  # a subquery: its clauses were checked with the rest
            continue
        name = _PROCEDURE.match(rest)
        procedure = name.group(0) if name else rest[:20]
        if procedure.lower() not in READ_PROCEDURES:
            raise UnsafeCypherError(f"procedure not allowed: {procedure}")
    returns = _top_level(scanned, _RETURN)
    if not returns:
        raise UnsafeCypherError("no RETURN clause")
    if not [limit for limit in _top_level(scanned, _LIMIT) if limit > returns[-1]]:
        cleaned = f"{cleaned} LIMIT {default_limit}"
    return cleaned


def _strip(cypher: str) -> tuple[str, str]:
    """(query without comments, the same with string contents blanked and backticks dropped).

    The second is what keywords are looked for in; the first is what runs. A comment becomes a space,
    as Cypher itself reads it. An unterminated comment, string or quoted name is refused.
    """
    cleaned: list[str] = []
    scanned: list[str] = []
    i, n = 0, len(cypher)
    while i < n:
        char, pair = cypher[i], cypher[i : i + 2]
        if pair == "//":
            end = cypher.find("\n", i)
            i = n if end < 0 else end
            cleaned.append(" ")
            scanned.append(" ")
        elif pair == "/*":
            end = cypher.find("*/", i + 2)
            if end < 0:
                raise UnsafeCypherError("unterminated comment")
            i = end + 2
            cleaned.append(" ")
            scanned.append(" ")
        elif char in _QUOTES:
            end = _string_end(cypher, i)
            cleaned.append(cypher[i:end])
            scanned.append(char * 2)
            i = end
        elif char == "`":
            end = cypher.find("`", i + 1)
            if end < 0:
                raise UnsafeCypherError("unterminated quoted name")
            cleaned.append(cypher[i : end + 1])
            scanned.append(cypher[i + 1 : end])  # `CREATE` still reads as CREATE: refuse rather than guess
            i = end + 1
        else:
            cleaned.append(char)
            scanned.append(char)
            i += 1
    return "".join(cleaned), "".join(scanned)


def _string_end(cypher: str, start: int) -> int:
    """Index just past the string literal opened at `start`; a backslash escapes the next character."""
    quote, i = cypher[start], start + 1
    while i < len(cypher):
        if cypher[i] == "\\":
            i += 2
        elif cypher[i] == quote:
            return i + 1
        else:
            i += 1
    raise UnsafeCypherError("unterminated string")


def _top_level(scanned: str, keyword: re.Pattern[str]) -> list[int]:
    """Where `keyword` occurs outside any `{...}`: a subquery's RETURN or LIMIT is not the query's."""
    depth, depths = 0, []
    for char in scanned:
        depths.append(depth)
        depth += (char == "{") - (char == "}")
    return [match.start() for match in keyword.finditer(scanned) if depths[match.start()] == 0]
