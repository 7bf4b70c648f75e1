"""The ``medsettle`` command: ``serve``, ``migrate``, ``demo``."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from app.kit.settings import Settings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Terminated(BaseException):
    """SIGTERM outside uvicorn: unwind so the embedded PostgreSQL is stopped."""


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The database URL: MEDSETTLE_DATABASE_URL, or an embedded PostgreSQL started (and stopped) here."""
    if settings.database_url:
        yield settings.database_url
        return
    from app.kit.embedded_pg import start_embedded

    _say(f"starting embedded PostgreSQL in {settings.data_dir.resolve()}/pg")
    embedded = start_embedded(settings.data_dir)
    try:
        yield embedded.url
    finally:
        _say("stopping embedded PostgreSQL")
        embedded.stop()


def _migrate(url: str) -> None:
    from app.kit.migrate import head_revision, upgrade_head

    upgrade_head(url)
    _say(f"database at migration {head_revision()}")


def _load_demo(url: str, persons: int) -> dict[str, str]:
    from app.demo.world import load_demo
    from app.kit.db import create_engine

    async def run() -> dict[str, str]:
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                return await load_demo(conn, persons=persons)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _print_keys(keys: dict[str, str]) -> None:
    from app.demo.world import describe_keys

    print(describe_keys(keys), flush=True)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.demo and settings.env == "production":
        _say("refusing --demo with MEDSETTLE_ENV=production (demo keys are well known)")
        return 2
    if args.workers < 1:
        _say("--workers must be at least 1")
        return 2
    with database(settings) as url:
        _migrate(url)
        if args.demo:
            _print_keys(_load_demo(url, args.demo_persons))
        _say(f"serving on http://{args.host}:{args.port} (docs: /docs), {args.workers} worker(s)")
        if args.workers == 1:
            _serve_one(args, settings, url)
        else:
            _serve_workers(args, url)
    return 0


def _serve_one(args: argparse.Namespace, settings: Settings, url: str) -> None:
    import uvicorn

    from app.kit.http import HTTP_PROTOCOL

    from app.main import create_app

    app = create_app(settings.model_copy(update={"database_url": url}))
    # log_config=None: uvicorn keeps the handlers of app.kit.logging (JSON, request_id);
    # access_log=False: the app writes its own access line (route template, caller).
    uvicorn.run(
        app, host=args.host, port=args.port, access_log=False, log_config=None, lifespan="on", http=HTTP_PROTOCOL
    )


def _serve_workers(args: argparse.Namespace, url: str) -> None:
    """N uvicorn worker processes on one socket. Each builds the app from the environment
    (``app.main:create_app``), so the database URL (possibly the embedded server's) goes
    there; Prometheus multiprocess mode gets a fresh directory (app.kit.metrics)."""
    import os
    import shutil
    import tempfile

    import uvicorn

    from app.kit.http import HTTP_PROTOCOL
    from app.kit.metrics import MULTIPROC_ENV

    os.environ["MEDSETTLE_DATABASE_URL"] = url
    own_dir = None
    if os.environ.get(MULTIPROC_ENV):
        _say(f"{MULTIPROC_ENV}={os.environ[MULTIPROC_ENV]} (given; it must be empty at start)")
    else:
        own_dir = tempfile.mkdtemp(prefix="medsettle-metrics-")
        os.environ[MULTIPROC_ENV] = own_dir
    try:
        uvicorn.run(
            "app.main:create_app",
            factory=True,
            workers=args.workers,
            host=args.host,
            port=args.port,
            access_log=False,
            log_config=None,
            lifespan="on",
            http=HTTP_PROTOCOL,
        )
    finally:
        if own_dir is not None:
            shutil.rmtree(own_dir, ignore_errors=True)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with database(settings) as url:
        _migrate(url)
    return 0


def cmd_demo(args: argparse.Namespace, settings: Settings) -> int:
    if settings.env == "production":
        _say("refusing to load the demo with MEDSETTLE_ENV=production")
        return 2
    with database(settings) as url:
        _migrate(url)
        _print_keys(_load_demo(url, args.persons))
    return 0


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    """A policy simulation (started by the service; docs/simulations.md)."""
    if not settings.database_url:
        _say("medsettle simulate needs MEDSETTLE_DATABASE_URL (the service passes its own)")
        return 2
    from app.kit.db import to_libpq_url
    from app.simulations.worker import main as simulate

    return simulate(args, to_libpq_url(settings.database_url))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medsettle", description="Medical-insurance settlement service")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="apply migrations, then serve HTTP")
    serve.add_argument("--host", default=DEFAULT_HOST)
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--demo", action="store_true", help="load the demo world and print its API keys")
    serve.add_argument("--demo-persons", type=int, default=0, help="extra synthetic persons with --demo")
    serve.add_argument(
        "--workers", type=int, default=1, help="worker processes (each with its own pool; see docs/operations.md)"
    )
    serve.set_defaults(func=cmd_serve)
    migrate = sub.add_parser("migrate", help="apply migrations only")
    migrate.set_defaults(func=cmd_migrate)
    demo = sub.add_parser("demo", help="load the demo world into the database and print its API keys")
    demo.add_argument("--persons", type=int, default=0, help="extra synthetic persons (benchmarks)")
    demo.set_defaults(func=cmd_demo)
    simulate = sub.add_parser("simulate", help="run a queued policy simulation (the service starts this)")
    simulate.add_argument("simulation_id")
    simulate.add_argument("--parts", type=int, default=2, help="worker processes, persons split between them")
    simulate.add_argument("--part", type=int, default=None, help=argparse.SUPPRESS)
    simulate.add_argument("--snapshot", default=None, help=argparse.SUPPRESS)
    simulate.set_defaults(func=cmd_simulate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValueError as exc:
        _say(f"invalid settings: {exc}")
        return 2
    from app.kit.logging import configure_logging

    configure_logging(settings.log_level, settings.log_json)  # alembic and uvicorn lines too
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return args.func(args, settings)
    except Terminated:  # the normal way to stop a service (docker stop): a clean exit
        return 0
    except KeyboardInterrupt:
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
