"""The two README commands, needing only Python 3.11+ on the machine:

    python3 scripts/bootstrap.py run    # venv + install + migrate + seed demo (first start) + serve :8051
    python3 scripts/bootstrap.py test   # venv + install (+ test tools) + the whole pytest suite

Extra arguments after the command go to the launcher / pytest. The project itself is installed
into the venv in editable mode (``pip install --no-deps --no-build-isolation -e .``: the pinned
setuptools of requirements.txt builds it, offline), so its packages import from this checkout
without any sys.path edit and the ``o2o-*`` commands exist in .venv. Installs are skipped when
the requirements files (and pyproject.toml, for the project) have not changed since the last
successful install (hash stamps in .venv). Standard library only: it runs before the venv exists.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
MIN_PYTHON = (3, 11)


def venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def ensure_venv(requirement_files: list[str]) -> Path:
    python = venv_python()
    if not python.exists():
        print(f"⏳ 创建虚拟环境 {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    digest = hashlib.sha256()
    for name in requirement_files:
        digest.update((ROOT / name).read_bytes())
    stamp = VENV / f".installed-{'-'.join(Path(n).stem for n in requirement_files)}"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        print("✅ 依赖已是最新", flush=True)
        return python
    print("⏳ 安装依赖 (pip install -r " + " -r ".join(requirement_files) + ")", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--upgrade", "--quiet", "pip"], check=False)
    args = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    for name in requirement_files:
        args += ["-r", str(ROOT / name)]
    subprocess.run(args, check=True, cwd=ROOT)
    stamp.write_text(digest.hexdigest())
    print("✅ 依赖安装完成", flush=True)
    return python


def ensure_project(python: Path) -> None:
    """The checkout installed in editable mode (again when pyproject.toml changed or the venv's
    install points at another checkout, e.g. a venv shared by several work trees)."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + str(ROOT).encode()).hexdigest()
    stamp = VENV / ".installed-project"
    if stamp.exists() and stamp.read_text() == digest:
        return
    print(f"⏳ 安装项目 (pip install -e {ROOT})", flush=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--no-build-isolation", "-e", str(ROOT)], check=True, cwd=ROOT)  # fmt: skip
    stamp.write_text(digest)
    print("✅ 项目已安装 (o2o-launch 等命令在 .venv 中)", flush=True)


def main(argv: list[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        print(f"❌ 需要 Python {'.'.join(map(str, MIN_PYTHON))}+，当前 {sys.version.split()[0]}")
        return 2
    if not argv or argv[0] not in ("run", "test"):
        print(__doc__)
        return 2
    command, rest = argv[0], argv[1:]
    try:
        if command == "run":
            python = ensure_venv(["requirements.txt"])
            ensure_project(python)
            return subprocess.call(
                [str(python), str(ROOT / "scripts" / "launch.py"), "production", *rest], cwd=ROOT
            )
        python = ensure_venv(["requirements.txt", "requirements-test.txt"])
        ensure_project(python)
        return subprocess.call([str(python), "-m", "pytest", *rest], cwd=ROOT)
    except subprocess.CalledProcessError as exc:
        print(f"❌ 命令失败 (退出码 {exc.returncode}): {' '.join(map(str, exc.cmd))}")
        return exc.returncode or 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
