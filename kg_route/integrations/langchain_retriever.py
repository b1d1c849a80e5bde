"""kgft's graph retrieval as a LangChain retriever: any chain that takes a retriever can use the graph."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from kg_route.integrations.metadata import fact_metadata
from kg_route.strategy import RetrievalStrategy


class KGLangChainRetriever(BaseRetriever):
    """One Document per fact, best first; the fact's text is the page content."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: RetrievalStrategy

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        retrieval = self.retriever.retrieve(query)
        return [
            Document(page_content=fact.text, metadata=fact_metadata(fact, retrieval))
            for fact in retrieval.facts
        ]
