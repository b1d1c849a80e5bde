"""One reader per data source (statutes, CMeKG triples, row files) for ingestion, eval and training alike.

Every part that reads a source goes through these, so they agree on which rows there are and name a
bad row by the same file and line.
"""

from pathlib import Path

from kgft.errors import KgftError

# The shared data folder beside the project (../shared/data), where the default sources and eval sets live.
DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


class SourceError(KgftError):
    """A data source is missing or unreadable; the message names the file and, where it can, the line."""
