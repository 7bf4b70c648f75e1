"""The application factory: ``create_app(settings=None) -> FastAPI``.

uvicorn: ``uvicorn app.main:create_app --factory`` (or ``medsettle serve``).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.evouchers import ratelimit
from app.kit import metrics
from app.apikeys.repository import KeyStore, ensure_admin_key
from app.kit.cache import ReferenceGeneration, ReferenceListener
from app.kit.db import create_engine, create_sessionmaker, redact
from app.kit.dberrors import install_database_error_handlers
from app.kit.rawdb import HeldConnections
from app.kit.embedded_pg import start_embedded
from app.kit.docs import install_docs
from app.kit.errors import ProblemError, install_error_handlers, problem_responses
from app.kit.logging import RequestContextMiddleware, configure_logging
from app.kit.routing import operation_id
from app.kit.migrate import head_revision
from app.kit.settings import Settings

log = structlog.get_logger("medsettle")

DESCRIPTION = """
**medsettle** settles Chinese medical-insurance claims (医保一站式结算): basic insurance,
critical-illness insurance, medical aid and secondary aid in one call, per the policy
of the insured region.

Authenticate with `Authorization: Bearer <api key>`. Errors are RFC 9457
`application/problem+json` documents with a stable `code`.
"""


class NotReady(ProblemError):
    status, code, title = 503, "not_ready", "Not ready"


class Health(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"status": "ok"}})
    status: str


class Readiness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"example": {"status": "ready", "revision": "0001"}})
    status: str
    revision: str


def _include_routers(app: FastAPI) -> None:
    from app.apikeys.router import router as apikeys_router
    from app.persons.router import router as persons_router
    from app.reference.router import router as reference_router

    app.include_router(metrics.router)
    app.include_router(reference_router)
    app.include_router(apikeys_router)
    app.include_router(persons_router)

    # ---- Domain routers of other teams: add their include_router lines here. ----
    from app.settlement.router import router as settlement_router

    app.include_router(settlement_router)
    from app.settlement.slip_router import router as slip_router

    app.include_router(slip_router)
    from app.registrations.router import router as registrations_router

    app.include_router(registrations_router)
    from app.evouchers.router import router as evouchers_router

    app.include_router(evouchers_router)
    from app.national.router import router as national_router

    app.include_router(national_router)

    from app.chronic.router import router as chronic_router

    app.include_router(chronic_router)

    from app.ops.router import router as ops_router
    from app.reconciliation.router import router as reconciliation_router
    from app.reports.router import router as reports_router

    app.include_router(reconciliation_router)
    app.include_router(reports_router)
    app.include_router(ops_router)

    from app.simulations.router import router as simulations_router

    app.include_router(simulations_router)
    from app.simulations.pages import router as simulation_pages_router

    app.include_router(simulation_pages_router)
    # ---- end of domain routers ----


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    embedded = None
    url = settings.database_url
    if url is None:  # plain `uvicorn --factory` without a URL: run on the embedded server
        embedded = start_embedded(settings.data_dir)
        url = embedded.url
    engine = create_engine(url, settings)
    app.state.database_url = url
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.key_store = KeyStore(app.state)
    app.state.held_connections = HeldConnections(engine, min(settings.db_held_connections, settings.db_pool_size))
    reference: ReferenceGeneration = app.state.reference
    listener = None
    sampler: asyncio.Task[None] | None = None
    previous_limiter = ratelimit.LIMITER.attach(url)
    try:
        if settings.bootstrap_admin_key is not None:
            async with app.state.sessionmaker() as session, session.begin():
                session.info["medsettle_reference"] = reference
                await ensure_admin_key(session, settings.bootstrap_admin_key.get_secret_value())
            reference.bump()
        from app.simulations.service import fail_unfinished

        try:
            async with app.state.sessionmaker() as session, session.begin():
                await fail_unfinished(session)  # their processes died with the previous service
        except (OSError, SQLAlchemyError) as exc:  # the service starts without its database (/readyz says so)
            log.warning("simulations_not_checked", error=type(exc).__name__)
        if settings.reference_listener:
            listener = ReferenceListener(url, reference)
            await listener.start()
        app.state.reference_listener = listener
        fold_task = None
        if settings.report_fold_interval_seconds > 0:
            from app.reports.rollup import fold_periodically

            fold_task = asyncio.create_task(fold_periodically(app.state, settings.report_fold_interval_seconds))
        app.state.report_fold_task = fold_task
        log.info("started", database=redact(url) if embedded is None else "embedded")
        # What start-up built (app, routes, schemas, caches) lives as long as the process:
        # keep it out of every collection, and collect the young generation less often —
        # each request allocates many short-lived objects (docs/performance.md).
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 20, 20)
        if metrics.multiprocess_mode():  # one of several workers (app.kit.metrics)
            sampler = asyncio.create_task(metrics.sample_worker_forever())
        yield
    finally:
        if sampler is not None:
            sampler.cancel()
            metrics.mark_worker_stopped()
        task = getattr(app.state, "report_fold_task", None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if listener is not None:
            await listener.stop()
        await app.state.held_connections.close()
        await ratelimit.LIMITER.detach(previous_limiter)
        await engine.dispose()
        if embedded is not None:
            embedded.stop()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title="medsettle",
        version="0.1.0",
        summary="One-stop medical-insurance settlement 医保一站式结算",
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        docs_url=None,  # /docs and /redoc with local assets: app.kit.docs
        redoc_url=None,
        # FastAPI's native OpenTelemetry: the service's telemetry is its own Prometheus
        # metrics and JSON logs (docs/operations.md). Left on, FastAPI asks OpenTelemetry
        # for its providers on every request (≈ 10 µs of a settlement's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
    )
    app.state.settings = settings
    app.state.max_body_bytes = settings.max_body_bytes  # app.kit.routing.limit_body
    app.state.report_fold_margin = dt.timedelta(seconds=settings.report_fold_margin_seconds)
    # Reference caches are disabled until the NOTIFY listener connects (if enabled).
    app.state.reference = ReferenceGeneration(reliable=not settings.reference_listener)
    app.state.reference_listener = None
    install_error_handlers(app)
    install_database_error_handlers(app)
    from app.settlement import fast_route

    # Added first, so it sits inside RequestContextMiddleware (request id, access log, metrics).
    fast_route.install(app)
    app.add_middleware(RequestContextMiddleware)

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness",
        description="The process is up. Touches nothing else.",
        response_model=Health,
    )
    async def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["operations"],
        summary="Readiness",
        description="The database is reachable and its migrations are at head.",
        response_model=Readiness,
        responses=problem_responses((503, "not_ready")),
    )
    async def readyz() -> Readiness:
        head = head_revision()
        try:
            async with app.state.engine.connect() as conn:
                current = None
                if (await conn.execute(text("SELECT to_regclass('alembic_version') IS NOT NULL"))).scalar():
                    current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
        except Exception as exc:
            log.warning("readyz_database_unreachable", error=type(exc).__name__)
            raise NotReady("The database is not reachable.") from None
        if current != head:
            raise NotReady(f"Database schema is at {current or 'nothing'}, expected {head}.")
        return Readiness(status="ready", revision=head)

    install_docs(app)
    _include_routers(app)
    _document(app)
    return app


def _document(app: FastAPI) -> None:
    """Every schema property described, code tables as enums (app.kit.openapi_docs)."""
    from app.kit.openapi_docs import complete

    build = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
