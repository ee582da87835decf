"""The project is installed (pyproject.toml), so nothing edits sys.path; the console scripts name
importable callables; the server package runs the app and the app never imports it."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
import tomllib

from config import PROJECT_ROOT

SKIPPED_DIRS = {".venv", "var", "test-artifacts", "node_modules", ".git"}
# every top-level package of the project but the server, the commands and the tests
APP_PACKAGES = sorted({p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py")} - {"serving", "scripts", "tests"})
# sys.path changed in code or in the text of a script run with -c; site.addsitedir; PYTHONPATH set
PATH_EDIT = re.compile(r"sys\.path\s*(\.\s*(insert|append|extend|remove|pop|clear)\b|\[[^\]]*\]\s*=|\+?=)"
                       r"|addsitedir\(|PYTHONPATH\W*[:=]")  # fmt: skip


RESOLVE = """
import importlib, json, sys
scripts = json.loads(sys.argv[1])
resolved = []
for name, target in sorted(scripts.items()):
    module, _, attribute = target.partition(":")
    if callable(getattr(importlib.import_module(module), attribute)):
        resolved.append(name)
print(json.dumps(resolved))
"""


def _project_files(suffixes: tuple[str, ...]) -> list:
    return [path for path in PROJECT_ROOT.rglob("*") if path.suffix in suffixes and path.is_file()
            and not SKIPPED_DIRS & set(path.relative_to(PROJECT_ROOT).parts)]  # fmt: skip


def _pyproject() -> dict:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_entry001_nothing_edits_sys_path():
    files = _project_files((".py", ".sh", ".ps1", ".toml", ".cfg", ".ini"))
    assert len([f for f in files if f.parent.name == "scripts"]) > 20
    this = PROJECT_ROOT / "tests" / "unit" / "test_entry_points.py"
    edits = [f"{path.relative_to(PROJECT_ROOT)}:{number}: {line.strip()}"
             for path in files if path != this
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if PATH_EDIT.search(line)]  # fmt: skip
    assert edits == []
    assert "pythonpath" not in _pyproject()["tool"]["pytest"]["ini_options"]


def test_entry002_console_scripts_are_installed_callables():
    scripts = _pyproject()["project"]["scripts"]
    assert {"o2o-launch", "o2o-import", "o2o-doctor", "o2o-generate-demo", "o2o-configure-redis",
            "o2o-load-test", "o2o-check-deps"} <= set(scripts)  # fmt: skip
    # in a fresh interpreter: the load test's module lets gevent patch the process it is imported in
    loaded = subprocess.run([sys.executable, "-c", RESOLVE, json.dumps(scripts)], capture_output=True, text=True,
                            timeout=120)  # fmt: skip
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout.splitlines()[-1]) == sorted(scripts)
    installed = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")
                 if e.name in scripts}  # fmt: skip
    assert installed == scripts, "the venv's install is older than pyproject.toml: run scripts/bootstrap.py"


def test_entry003_the_app_never_imports_the_server():
    assert {"analytics", "cache", "components", "config", "db", "monitoring", "pages", "services", "web"} <= set(
        APP_PACKAGES)  # fmt: skip
    files = [PROJECT_ROOT / "app.py"] + [f for package in APP_PACKAGES for f in (PROJECT_ROOT / package).rglob("*.py")]
    importers = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])  # fmt: skip
            if any(name == "serving" or name.startswith(("serving.", "scripts")) for name in names):
                importers.append(str(path.relative_to(PROJECT_ROOT)))
    assert importers == []
