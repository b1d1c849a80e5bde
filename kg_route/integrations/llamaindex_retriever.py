"""kgft's graph retrieval as a LlamaIndex retriever: query engines and agents can use the graph."""

from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from kg_route.integrations.metadata import fact_metadata
from kg_route.strategy import RetrievalStrategy

# A model reading the node needs its source to cite; ids, scores and links are for code.
_HIDDEN_FROM_LLM = ["id", "score", "linked"]


class KGLlamaIndexRetriever(BaseRetriever):
    """One scored TextNode per fact, best first; the node id is the fact id, so citations survive."""

    def __init__(self, retriever: RetrievalStrategy) -> None:
        super().__init__()
        self.retriever = retriever

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        retrieval = self.retriever.retrieve(query_bundle.query_str)
        return [
            NodeWithScore(
                node=TextNode(
                    id_=fact.id,
                    text=fact.text,
                    metadata=fact_metadata(fact, retrieval),
                    excluded_llm_metadata_keys=_HIDDEN_FROM_LLM,
                    excluded_embed_metadata_keys=_HIDDEN_FROM_LLM,
                ),
                score=fact.score,
            )
            for fact in retrieval.facts
        ]
