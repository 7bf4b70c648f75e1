"""Programmatic alembic: ``upgrade_head(url)``, ``downgrade_base(url)``, ``head_revision()``."""

from __future__ import annotations

import asyncio
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

import migrations as _migrations_pkg

MIGRATIONS_DIR = Path(_migrations_pkg.__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url:
        cfg.attributes["url"] = url
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The single head revision of the migration scripts."""
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"expected exactly one migration head, found {heads}")
    return heads[0]


def _in_thread(fn, *args) -> None:  # type: ignore[no-untyped-def]
    """Alembic's async env calls asyncio.run(); run it in a fresh thread if a loop is running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        fn(*args)
        return
    import threading

    errors: list[BaseException] = []

    def target() -> None:
        try:
            fn(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if errors:
        raise errors[0]


def upgrade_head(url: str) -> None:
    """Apply every migration up to head. Safe to call from inside an event loop (blocks it)."""
    _in_thread(command.upgrade, alembic_config(url), "head")


def downgrade_base(url: str) -> None:
    _in_thread(command.downgrade, alembic_config(url), "base")


async def upgrade_head_async(url: str) -> None:
    await asyncio.to_thread(command.upgrade, alembic_config(url), "head")


async def downgrade_base_async(url: str) -> None:
    await asyncio.to_thread(command.downgrade, alembic_config(url), "base")
