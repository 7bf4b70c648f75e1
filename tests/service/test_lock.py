"""requirements.lock pins every dependency of pyproject.toml, with hashes, and everything installs from it."""

from __future__ import annotations

import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"


def _locked() -> dict[str, tuple[str, str, list[str]]]:
    """name -> (version, marker, hashes) from the lock."""
    text = LOCK.read_text().replace("\\\n", " ")
    out: dict[str, tuple[str, str, list[str]]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, _, rest = line.partition("--hash")
        rest = "--hash" + rest
        req = Requirement(spec.strip())
        assert len(req.specifier) == 1 and next(iter(req.specifier)).operator == "==", line
        version = next(iter(req.specifier)).version
        hashes = re.findall(r"--hash=sha256:([0-9a-f]{64})", rest)
        out[canonicalize_name(req.name)] = (version, str(req.marker or ""), hashes)
    return out


def _declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]


def test_lock_pins_every_declared_dependency_with_hashes() -> None:
    locked = _locked()
    env = {**default_environment(), "extra": "test"}
    assert len(locked) >= 20
    for name, (version, _, hashes) in locked.items():
        assert hashes, f"{name} has no hash"
    for req in _declared():
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in locked, f"{req} is not in requirements.lock: run scripts/lock.sh"
        assert req.specifier.contains(locked[name][0], prereleases=True), (
            f"lock has {name}=={locked[name][0]}, pyproject.toml wants {req.specifier}: run scripts/lock.sh"
        )


def test_everything_installs_from_the_lock() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme.count("pip install -r requirements.lock") >= 2, "README's two commands"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "-m venv" in ci and "--require-hashes -r requirements.lock" in ci and "--no-deps -e ." in ci
    docker = (ROOT / "Dockerfile").read_text()
    assert "requirements.lock" in docker and "--require-hashes -r requirements.lock" in docker


@pytest.mark.skipif(os.environ.get("CI") != "true", reason="a developer's environment may run ahead of the lock")
def test_ci_runs_on_exactly_the_locked_versions() -> None:
    env = default_environment()
    for name, (version, marker, _) in _locked().items():
        if marker and not Requirement(f"x ; {marker}").marker.evaluate(env):  # type: ignore[union-attr]
            continue
        assert metadata.version(name) == version, name
