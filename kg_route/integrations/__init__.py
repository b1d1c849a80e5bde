"""Adapters that put kgft's graph retrieval and models behind LangChain's and LlamaIndex's interfaces.

They need the `ecosystem` extra; nothing else in kgft imports them.
"""
