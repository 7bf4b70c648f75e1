"""Each domain owns its tables (docs/architecture.md, "Who may read and write which
tables"): only the owner imports a table definition. Other domains go through the
owner's functions (a repository function, `persons.state`, `reference.reader`).
The demo loader, a seeder that writes every domain's rows, and `app.schema`, which
gathers the definitions, are the exceptions."""

from __future__ import annotations

import pathlib
import re

import app

APP = pathlib.Path(app.__file__).parent
DOMAINS = ("apikeys", "evouchers", "persons", "reference", "registrations", "settlement")
EXCEPTIONS = {"demo/world.py", "schema.py"}


def test_only_the_owner_imports_a_domains_tables() -> None:
    crossings = []
    for path in sorted(APP.rglob("*.py")):
        rel = str(path.relative_to(APP))
        if rel in EXCEPTIONS:
            continue
        here = rel.split("/")[0]
        for owner in re.findall(r"from app\.(\w+)\.tables import", path.read_text(encoding="utf-8")):
            if owner != here and owner != "kit":  # kit: the metadata, column types, audit_log
                crossings.append((rel, owner))
    assert crossings == []


def test_every_domain_defines_its_tables_beside_it_and_kit_none_of_theirs() -> None:
    for domain in DOMAINS:
        assert (APP / domain / "tables.py").is_file(), domain
    kit_tables = (APP / "kit" / "tables.py").read_text(encoding="utf-8")
    assert re.findall(r'^(\w+) = Table\(\s*"(\w+)"', kit_tables, re.M) == [("audit_log", "audit_log")]
    for path in (APP / "kit").glob("*.py"):
        assert not re.search(r"from app\.(%s)\b" % "|".join(DOMAINS), path.read_text(encoding="utf-8")), path.name
