"""The web page at `/`: one question, both routes side by side, and links to the eval reports.

The page itself needs no API key; its script sends the key the user typed to `/v1/answer`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse

from gateway.web.reports import ReportIndex

STATIC_DIR = Path(__file__).parent / "static"
_ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}


def build_router(reports_dir: Path) -> APIRouter:
    """Reports are listed from `reports_dir` on every request, so a finished eval run shows up at once."""
    reports = ReportIndex(reports_dir)
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    @router.get("/ui/{asset}")
    def asset(asset: str) -> FileResponse:
        if asset not in _ASSETS:
            raise HTTPException(404, "no such asset")
        return FileResponse(STATIC_DIR / asset, media_type=_ASSETS[asset])

    @router.get("/reports")
    def report_list() -> list[dict[str, str]]:
        return [
            {"name": folder.name, "url": folder.url, "modified_at": folder.modified_at}
            for folder in reports.folders()
        ]

    @router.get("/reports/{name}/{relative:path}")
    def report_file(name: str, relative: str) -> FileResponse:
        path = reports.file(name, relative)
        if path is None:
            raise HTTPException(404, "no such report file")
        return FileResponse(path)

    return router
