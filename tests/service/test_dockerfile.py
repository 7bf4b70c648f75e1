"""The Dockerfile agrees with the package (docker itself is not available on CI machines)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

from app.cli import DEFAULT_PORT, build_parser

ROOT = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            out.append((keyword.upper(), rest.strip()))
    return out


def test_dockerfile_matches_the_package() -> None:
    instructions = _instructions()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

    base = [rest for kw, rest in instructions if kw == "FROM"]
    assert len(base) == 1 and re.match(r"python:3\.\d+-slim", base[0])

    runs = " ".join(rest for kw, rest in instructions if kw == "RUN")
    assert re.search(r"pip install (\S+ )*\.( |$)", runs), "the image installs the package"

    users = [rest for kw, rest in instructions if kw == "USER"]
    assert users and users[-1] not in ("root", "0"), "runs as a non-root user"

    cmd = [rest for kw, rest in instructions if kw in ("CMD", "ENTRYPOINT")][-1]
    argv = json.loads(cmd)
    assert argv[0] in scripts and scripts[argv[0]] == "app.cli:main"
    assert argv[1] == "serve"
    args = build_parser().parse_args(argv[1:])
    exposed = [int(p.split("/")[0]) for kw, rest in instructions if kw == "EXPOSE" for p in rest.split()]
    assert exposed == [args.port] == [DEFAULT_PORT]
    assert args.host == "0.0.0.0" and not args.demo

    copied = " ".join(rest for kw, rest in instructions if kw == "COPY")
    for needed in ("pyproject.toml", "app", "migrations"):
        assert needed in copied
    env = " ".join(rest for kw, rest in instructions if kw == "ENV")
    assert "MEDSETTLE_ENV=production" in env  # refuses to start without MEDSETTLE_DATABASE_URL


def test_wheel_ships_the_migrations() -> None:
    """A non-editable install (as in the image) must carry the alembic scripts."""
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "migrations*" in cfg["packages"]["find"]["include"]
    assert (ROOT / "migrations" / "versions" / "__init__.py").exists()
    assert "script.py.mako" in cfg["package-data"]["migrations"]
