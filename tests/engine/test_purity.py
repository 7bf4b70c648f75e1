"""The engine is pure: it imports only a small stdlib allow-list and itself.

Reads every module of app/engine/ with `ast` (nothing is executed), so a stray
`import os` inside a function, `from time import monotonic` or
`importlib.import_module("httpx")` is caught as well as a top-level import.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE_DIR = Path(__file__).resolve().parents[2] / "app" / "engine"
MODULES = sorted(ENGINE_DIR.glob("*.py"))

ALLOWED = {
    "__future__",
    "collections.abc",
    "dataclasses",
    "datetime",
    "decimal",
    "enum",
    "functools",
    "itertools",
    "math",
    "typing",
}
ENGINE_PACKAGE = "app.engine"
# Called by name, these would reach modules without an import statement.
FORBIDDEN_CALLS = {"__import__", "import_module", "exec", "eval", "open", "compile"}


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: inside app.engine
                found.append((node.lineno, ENGINE_PACKAGE + ("." + node.module if node.module else "")))
            else:
                found.append((node.lineno, node.module or ""))
    return found


def _allowed(module: str) -> bool:
    return module in ALLOWED or module == ENGINE_PACKAGE or module.startswith(ENGINE_PACKAGE + ".")


def test_engine_has_modules() -> None:
    names = {p.stem for p in MODULES}
    assert {"model", "money", "classify", "layers", "settle", "policy_doc"} <= names


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_engine_module_imports_only_the_allow_list(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = [f"line {line}: {module}" for line, module in _imports(tree) if not _allowed(module)]
    assert not bad, f"{path.name} imports outside the allow-list: {bad}"


@pytest.mark.parametrize("path", MODULES, ids=[p.name for p in MODULES])
def test_engine_module_does_no_dynamic_import_or_io(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
            if name in FORBIDDEN_CALLS:
                bad.append(f"line {node.lineno}: {name}()")
    assert not bad, f"{path.name}: {bad}"


@pytest.mark.parametrize(
    "source",
    [
        "import os",
        "import time",
        "import logging",
        "import random",
        "import uuid",
        "from fastapi import APIRouter",
        "import sqlalchemy.orm",
        "from asyncpg import connect",
        "import httpx",
        "from app.kit import db",
        "from app.settlement import service",
        "def f():\n    import os\n",
        "from datetime import datetime\nfrom time import monotonic",
    ],
)
def test_the_check_itself_rejects_io_imports(source: str) -> None:
    assert any(not _allowed(module) for _, module in _imports(ast.parse(source)))


@pytest.mark.parametrize(
    "source",
    ["from decimal import Decimal", "import datetime as dt", "from app.engine.model import Policy", "from . import money"],
)
def test_the_check_itself_accepts_the_allow_list(source: str) -> None:
    assert all(_allowed(module) for _, module in _imports(ast.parse(source)))
