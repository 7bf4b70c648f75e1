"""Export the OpenAPI document: ``python -m app.openapi_export [openapi/openapi.json]``.

``tests/test_openapi.py`` fails when the committed file differs from the app's.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Any

DEFAULT_PATH = Path(__file__).resolve().parent.parent / "openapi" / "openapi.json"


@functools.cache
def current_openapi() -> dict[str, Any]:
    from app.kit.settings import Settings
    from app.main import create_app

    # The schema does not depend on the database; no connection is made.
    return create_app(Settings(_env_file=None, database_url="postgresql://unused@localhost/unused")).openapi()


def render(spec: dict[str, Any]) -> str:
    return json.dumps(spec, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    path = Path(argv[0]) if argv else DEFAULT_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(current_openapi()), encoding="utf-8")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
