"""The KG route's build step: statutes and CMeKG into a graph store, resumable and priced."""

from kg_route.ingest.legal import ingest_legal
from kg_route.ingest.medical import ingest_medical, normalize_name
from kg_route.ingest.runner import IngestSourceError, IngestSummary

__all__ = ["IngestSourceError", "IngestSummary", "ingest_legal", "ingest_medical", "normalize_name"]
