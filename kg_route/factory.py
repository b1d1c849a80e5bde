"""Assemble the KG route from settings: graph store, linker over the graph's own names, retriever."""

from __future__ import annotations

from kg_route.linking import EntityLinker
from kg_route.linking.embedding import FALLBACK_KINDS, MODEL_TAG, EmbeddingIndex
from kg_route.linking.sources import LINKED_KINDS, linker_inputs
from kg_route.retrieval import FactRetriever
from kg_route.route import KGRoute
from kgft.card_costs import trained_model_build
from kgft.errors import KgftError
from kgft.graph_store import GraphStore, NodeRow, open_graph
from kgft.ledger import Ledger, LedgerEntry
from kgft.pricing import PriceBook
from kgft.projects import graph_config
from kgft.settings import Settings
from kgft.trained_model import read_trained_model, trained_model_folder

_NAMES = (
    "MATCH (n:Node) WHERE n.kind IN $kinds "
    "RETURN n.id AS id, n.kind AS kind, n.name AS name, n.props AS props"
)
# e5 cosines bunch up: right names scored 0.90-0.935 on paraphrases, wrong ones 0.88-0.92
# (bench/kg_linking.py). Below 0.90 a match is a guess; only the best one is kept.
EMBEDDING_MIN_SCORE = 0.90
_SUBJECTS = "MATCH (n:Node)-[r:REL]->(:Node) WHERE n.kind IN $kinds RETURN DISTINCT n.id AS id"


def linker_from_store(store: GraphStore, settings: Settings) -> EntityLinker:
    """Every name the graph holds, so a link always lands on a node that exists."""
    return _linker(store, settings)[0]


def _linker(store: GraphStore, settings: Settings) -> tuple[EntityLinker, EmbeddingIndex | None]:
    rows = store.read(_NAMES, {"kinds": sorted(LINKED_KINDS | {"Article"})})
    if not rows:
        raise KgftError(
            f"the graph at {store.url} is empty; run `kgft ingest legal` or `kgft ingest medical` first"
        )
    nodes = [NodeRow(row["id"], row["kind"], row["name"], props=row["props"] or "{}") for row in rows]
    entries, articles = linker_inputs(nodes)
    if not settings.kg_embeddings:
        return EntityLinker(entries, articles), None
    # Only nodes that carry facts are worth a vector: it halves the one-time embedding cost.
    subjects = {row["id"] for row in store.read(_SUBJECTS, {"kinds": sorted(FALLBACK_KINDS)})}
    index = EmbeddingIndex.build(
        [entry for entry in entries if entry.node_id in subjects or entry.kind == "Law"],
        settings.cache_dir / "embeddings",
    )
    linker = EntityLinker(
        entries,
        articles,
        fallback=lambda question: index.nearest(question, k=1, min_score=EMBEDDING_MIN_SCORE),
    )
    return linker, index


def embedding_entry(
    index: EmbeddingIndex, seconds: float, store_url: str, settings: Settings, prices: PriceBook
) -> LedgerEntry:
    """The one-off cost of embedding the graph's names: part of the graph's build, whichever route reads
    it; its id is the cache key, so the same vectors are booked once."""
    cost = prices.compute_cost(settings.device, seconds, cores=settings.threads)
    return LedgerEntry.from_cost(
        "kg",
        "embedding_index",
        f"embed {len(index.entries)} node names ({MODEL_TAG})",
        cost,
        seconds=seconds,
        meta={"names": len(index.entries), "model": MODEL_TAG, "store": store_url},
        id=f"embedding-index-{index.key}",
        config=graph_config(store_url),
    )


def build_route(settings: Settings, prices: PriceBook) -> KGRoute:
    """`kg`: the base model (KGFT_KG_BACKEND) reads the graph's facts with KGFT_KG_READER."""
    return KGRoute(_retriever(settings, prices), settings, prices)


def build_lexical_route(settings: Settings, prices: PriceBook) -> KGRoute:
    """`kg-lexical`: the facts alone pick MCQ options by character overlap, no model: the floor."""
    return KGRoute(_retriever(settings, prices), settings, prices, name="kg-lexical", reader="lexical")


def build_hybrid_route(settings: Settings, prices: PriceBook) -> KGRoute:
    """`hybrid`: the fine-tuned model (KGFT_FT_MODEL, else the shipped adapter) reads the graph's facts,
    with the same prompt and reader rule as `kg`, so the two differ only in the model's weights."""
    trained = read_trained_model(trained_model_folder(settings))
    return KGRoute(
        _retriever(settings, prices),
        settings,
        prices,
        name="hybrid",
        backend_spec=trained.backend_spec,
        reader="llm",
        model_builds=[trained_model_build(trained.folder)],
    )


def _retriever(settings: Settings, prices: PriceBook) -> FactRetriever:
    store = open_graph(settings)
    try:
        store.ensure_schema()
        linker, index = _linker(store, settings)
    except BaseException:
        store.close()  # an empty graph is the common first-run case; don't leave the store open
        raise
    if index is not None and index.embed_seconds is not None:
        entry = embedding_entry(index, index.embed_seconds, store.url, settings, prices)
        Ledger(settings.ledger_path).book([entry])
    return FactRetriever(store, linker, budget_tokens=settings.kg_budget_tokens)
