"""The import contracts of the app's packages (docs/ARCHITECTURE.md), read from the source with
``ast`` (every import counts, also one inside a function), and what importing them may do.

- no import cycle between top-level packages;
- components are view helpers: no services, data layer, cache, read model, monitoring, web;
- analytics is pure pandas: no Dash, Flask, SQL, services;
- pages reach the data through services only: no db, no SQLAlchemy;
- importing a module of the app starts no thread, configures no logging, sets no pandas option,
  changes no environment variable and registers no Dash callback.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = {"tests", "scripts", "migrations"}  # entry points and test code: above every package
PACKAGES = sorted(p.name for p in ROOT.iterdir() if (p / "__init__.py").is_file() and p.name not in OUTSIDE)
FORBIDDEN = {
    "components": {"services", "db", "cache", "readmodel", "monitoring", "web", "pages", "app", "sqlalchemy", "flask"},
    "analytics": {"dash", "flask", "sqlalchemy", "db", "services", "cache", "components", "pages", "web",
                  "monitoring", "app"},
    "pages": {"db", "sqlalchemy"},
}  # fmt: skip


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    """Top-level names of what ``path`` imports (absolute imports; relative ones stay inside)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def _graph() -> dict[str, dict[str, list[str]]]:
    """package → imported package → the modules that import it."""
    graph: dict[str, dict[str, list[str]]] = {}
    sources = {p: _modules(p) for p in PACKAGES} | {"app": [ROOT / "app.py"]}
    for package, paths in sources.items():
        edges = graph.setdefault(package, {})
        for path in paths:
            for name in _imports(path) - {package}:
                edges.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return graph


def _cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Strongly connected groups of more than one package (Tarjan)."""
    nodes = set(graph)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in nodes:
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return groups


def test_arch001_no_import_cycle_between_packages():
    graph = _graph()
    cycles = _cycles(graph)
    detail = {" ↔ ".join(c): {a: {b: graph[a][b] for b in c if b in graph[a]} for a in c} for c in cycles}
    assert not cycles, f"import cycles between packages: {json.dumps(detail, ensure_ascii=False, indent=1)}"


def test_arch002_layers_import_only_what_they_may():
    graph = _graph()
    broken = {f"{package} → {name}": graph[package][name]
              for package, names in FORBIDDEN.items() for name in sorted(names & set(graph[package]))}  # fmt: skip
    assert not broken, f"forbidden imports: {json.dumps(broken, ensure_ascii=False, indent=1)}"


# Imported in a fresh interpreter: every module of the app's packages but the page modules
# themselves (dash.register_page needs an app; their helpers, pages/_*.py, are imported).
PROBE = """
import importlib, json, logging, os, sys, threading
import pandas as pd
from dash._callback import GLOBAL_CALLBACK_LIST
names = json.loads(sys.argv[1])
environ, storage = dict(os.environ), pd.get_option("mode.string_storage")
handlers, level = list(logging.root.handlers), logging.root.level
for name in names:
    importlib.import_module(name)
print(json.dumps({
    "threads": sorted(t.name for t in threading.enumerate() if t is not threading.main_thread()),
    "string_storage": [storage, pd.get_option("mode.string_storage")],
    "logging": [len(handlers), len(logging.root.handlers), level, logging.root.level],
    "environ": sorted(k for k in set(environ) | set(os.environ) if environ.get(k) != os.environ.get(k)),
    "callbacks": [c["output"] for c in GLOBAL_CALLBACK_LIST],
}))
"""


def _module_names() -> list[str]:
    names = ["app"]
    for package in PACKAGES:
        for path in _modules(package):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[0] == "pages" and not parts[-1].startswith("_"):
                continue
            names.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return names


def test_arch003_importing_the_app_does_nothing_but_define():
    names = _module_names()
    assert {"app", "analytics", "components.charts", "services.runtime", "web.callback_body"} <= set(names)
    done = subprocess.run([sys.executable, "-c", PROBE, json.dumps(names)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    effects = json.loads(done.stdout.strip().splitlines()[-1])
    assert effects["threads"] == []
    before, after = effects["string_storage"]
    assert before == after, "a module sets pandas' string storage on import (analytics.use_python_strings does)"
    handlers_before, handlers_after, level_before, level_after = effects["logging"]
    assert (handlers_after, level_after) == (handlers_before, level_before), "logging configured on import"
    assert effects["environ"] == []
    assert effects["callbacks"] == [], "callbacks registered on import (pages register theirs)"
