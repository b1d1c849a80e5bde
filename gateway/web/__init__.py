"""The gateway's web page: both routes side by side, and links to the eval reports."""

from gateway.web.router import build_router

__all__ = ["build_router"]
