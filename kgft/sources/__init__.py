"""One reader per data source (statutes, CMeKG triples, row files) for ingestion, eval and training alike.

Every part that reads a source goes through these, so they agree on which rows there are and name a
bad row by the same file and line.
"""

from kgft.errors import KgftError


class SourceError(KgftError):
    """A data source is missing or unreadable; the message names the file and, where it can, the line."""
