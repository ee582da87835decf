"""Installed packages vs the pins in requirements*.txt: ``o2o-check-deps [--test]`` (``python scripts/check_deps.py``).

Prints a table, names every missing or mismatched package and ends with ``N/N 依赖满足``;
exit code 0 when all match, else 1. ``--test`` also checks requirements-test.txt. Importable:
``check(["requirements.txt"]) -> list[DepStatus]`` (used by the launcher and the doctor).
Standard library only (``packaging`` is used when present), so it runs before anything is installed.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s+|=)(?P<path>\S+)$")
_REQUIREMENT = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*(?P<spec>[=<>!~].*)?$")


@dataclass(frozen=True)
class DepStatus:
    """One requirement: ``required`` is its specifier (``==1.2.3``), ``installed`` None when absent."""

    name: str
    required: str
    installed: str | None
    ok: bool


def normalize_name(name: str) -> str:
    """PEP 503 normalised project name (``Flask_Caching`` → ``flask-caching``)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def check(requirement_files: Sequence[str | Path] = ("requirements.txt",)) -> list[DepStatus]:
    """Compare installed distributions with the requirements in ``requirement_files`` (relative
    paths are taken from the project root; ``-r`` includes are followed). Raises FileNotFoundError."""
    statuses: dict[str, DepStatus] = {}
    seen_files: set[Path] = set()
    for file in requirement_files:
        path = Path(file) if Path(file).is_absolute() else ROOT / file
        for name, spec in _read(path, seen_files):
            key = normalize_name(name)
            if key not in statuses:
                installed = _installed_version(key)
                statuses[key] = DepStatus(key, spec, installed, _satisfies(installed, spec))
    return list(statuses.values())


def _read(path: Path, seen: set[Path]) -> Iterator[tuple[str, str]]:
    path = path.resolve()
    if path in seen:
        return
    seen.add(path)
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        include = _INCLUDE.match(line)
        if include:
            yield from _read(path.parent / include["path"], seen)
            continue
        if line.startswith("-"):
            continue  # other pip options (--index-url, -e …) pin nothing
        requirement, _, marker = line.partition(";")
        if marker.strip() and not _marker_applies(marker.strip()):
            continue
        match = _REQUIREMENT.match(requirement.strip())
        if match:
            yield match["name"], (match["spec"] or "").replace(" ", "")


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _satisfies(installed: str | None, spec: str) -> bool:
    if installed is None:
        return False
    if not spec:
        return True
    try:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet
        from packaging.version import InvalidVersion
    except ImportError:
        return spec.startswith("==") and installed == spec[2:]
    try:
        return SpecifierSet(spec).contains(installed, prereleases=True)
    except (InvalidSpecifier, InvalidVersion):
        return spec.startswith("==") and installed == spec[2:]


def _marker_applies(marker: str) -> bool:
    try:
        from packaging.markers import InvalidMarker, Marker
    except ImportError:
        return True
    try:
        return Marker(marker).evaluate()
    except InvalidMarker:
        return True


def problems(statuses: Sequence[DepStatus]) -> list[str]:
    """One short Chinese phrase per unsatisfied requirement: ``redis 8.0.0 (要求 ==8.1.0)``."""
    return [
        f"{s.name} 未安装 (要求 {s.required or '任意版本'})"
        if s.installed is None
        else f"{s.name} {s.installed} (要求 {s.required})"
        for s in statuses
        if not s.ok
    ]


def format_table(statuses: Sequence[DepStatus]) -> str:
    rows = [("包", "要求", "已安装", "")] + [
        (s.name, s.required or "任意", s.installed or "—", "✅" if s.ok else "❌") for s in statuses
    ]
    widths = [max(_width(row[col]) for row in rows) for col in range(3)]
    lines = []
    for row in rows:
        cells = [cell + " " * (widths[col] - _width(cell)) for col, cell in enumerate(row[:3])]
        lines.append("  ".join([*cells, row[3]]).rstrip())
    return "\n".join(lines)


def _width(text: str) -> int:
    return sum(2 if "\u2e80" <= char <= "\uffef" else 1 for char in text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="检查已安装依赖是否符合 requirements*.txt 的版本")
    parser.add_argument("--test", action="store_true", help="同时检查 requirements-test.txt")
    parser.add_argument("files", nargs="*", help="要检查的 requirements 文件 (默认 requirements.txt)")
    args = parser.parse_args(argv)
    files: list[str | Path] = [Path(f).resolve() for f in args.files] or ["requirements.txt"]
    if args.test:
        files.append("requirements-test.txt")
    try:
        statuses = check(files)
    except OSError as exc:
        print(f"❌ 无法读取依赖文件: {exc}")
        return 1
    print(format_table(statuses))
    missing = [s.name for s in statuses if s.installed is None]
    mismatched = [f"{s.name} {s.installed} (要求 {s.required})" for s in statuses if s.installed and not s.ok]
    if missing:
        print(f"❌ 缺少: {', '.join(missing)}")
    if mismatched:
        print(f"❌ 版本不符: {', '.join(mismatched)}")
    satisfied = sum(s.ok for s in statuses)
    print(f"{satisfied}/{len(statuses)} 依赖满足")
    if satisfied != len(statuses):
        print(f"修复: {sys.executable} -m pip install " + " ".join(f"-r {f}" for f in files))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
