"""requirements.txt pins every third-party package the application imports; the test tools
(load test) are pinned in requirements-test.txt."""

import ast
import importlib.metadata
import re
import sys

from config import PROJECT_ROOT

# every top-level package of the project (a new package is checked without editing this test)
APP_DIRS = tuple(sorted({p.parent.name for p in PROJECT_ROOT.glob("*/__init__.py") if p.parent.name != "tests"}
                        | {"migrations", "scripts"}))  # fmt: skip
FIRST_PARTY = {*APP_DIRS, "app", "tests"}
TEST_TOOLS = tuple(PROJECT_ROOT / "scripts" / n for n in ("load_test.py", "_load_metrics.py"))  # requirements-test.txt


def _app_files() -> list:
    files = [PROJECT_ROOT / "app.py"]
    for folder in APP_DIRS:
        files += list((PROJECT_ROOT / folder).rglob("*.py")) if (PROJECT_ROOT / folder).exists() else []
    return [f for f in files if f not in TEST_TOOLS]


def _imported_top_levels(files: list) -> set[str]:
    names = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n not in FIRST_PARTY}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(*files: str) -> dict[str, str]:
    pinned = {}
    for file in files:
        for line in (PROJECT_ROOT / file).read_text().splitlines():
            if line.strip() and not line.startswith(("#", "-")):
                name, _, version = line.partition("==")
                assert version, f"not pinned exactly: {line}"
                pinned[_canonical(name)] = version
    return pinned


def _unpinned(files: list, pinned: dict[str, str]) -> list[str]:
    distributions = importlib.metadata.packages_distributions()
    missing = []
    for module in sorted(_imported_top_levels(files)):
        dists = {_canonical(d) for d in distributions.get(module, [module])}
        if not dists & set(pinned):
            missing.append(f"{module} ({', '.join(sorted(dists))})")
    return missing


def test_reqs001_every_imported_package_is_pinned():
    assert _unpinned(_app_files(), _pins("requirements.txt")) == []


def test_reqs002_test_tools_are_pinned_in_the_test_requirements():
    pinned = _pins("requirements.txt", "requirements-test.txt")
    tests = list((PROJECT_ROOT / "tests").rglob("*.py"))
    assert _unpinned([*TEST_TOOLS, *tests], pinned) == []
