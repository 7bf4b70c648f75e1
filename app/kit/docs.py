"""``/docs`` (Swagger UI) and ``/redoc`` served with local assets, never from a CDN.

Hospitals and bureaus run the service on intranets: FastAPI's default pages load their
JavaScript and CSS from a CDN (and ReDoc its fonts from Google) and stay blank there.
The assets come from the ``fastapi-standalone-docs`` package (Swagger UI's
``swagger-ui-bundle.js`` and ``swagger-ui.css``, ReDoc's ``redoc.standalone.js``, a
favicon), pinned in requirements.lock, and are served under ``/docs-assets/`` by the
app itself. Only the package's files are used, not its patching of FastAPI.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_standalone_docs
from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_URL = "/docs-assets"
ASSETS_DIR = Path(fastapi_standalone_docs.__file__).resolve().parent / "static"

SWAGGER_JS = f"{ASSETS_URL}/swagger/swagger-ui-bundle.js"
SWAGGER_CSS = f"{ASSETS_URL}/swagger/swagger-ui.css"
REDOC_JS = f"{ASSETS_URL}/redoc/redoc.standalone.js"
FAVICON = f"{ASSETS_URL}/fastapi/favicon.png"
OAUTH2_REDIRECT = "/docs/oauth2-redirect"


def install_docs(app: FastAPI) -> None:
    """Add ``/docs``, ``/redoc`` and the assets; create the app with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS_URL, StaticFiles(directory=ASSETS_DIR), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} — Swagger UI",
            swagger_js_url=SWAGGER_JS,
            swagger_css_url=SWAGGER_CSS,
            swagger_favicon_url=FAVICON,
            oauth2_redirect_url=OAUTH2_REDIRECT,
        )

    @app.get(OAUTH2_REDIRECT, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} — ReDoc",
            redoc_js_url=REDOC_JS,
            redoc_favicon_url=FAVICON,
            with_google_fonts=False,
        )
