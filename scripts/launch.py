"""Cross-platform launcher: ``python scripts/launch.py production|debug [options]``.

The same as the ``o2o-launch`` command; the launcher itself is ``serving.launcher``. Run by a
Python that has not got the project installed (not the project's .venv), it says how to set the
venv up and which pinned packages that Python lacks, and exits 1.
"""

import sys

try:
    from serving.launcher import main
except ModuleNotFoundError as exc:
    if exc.name not in ("serving", "config"):
        raise
    main = None


def not_installed() -> int:
    """Steps 1 and 2 of the launcher for a Python without the project (standard library only)."""
    import runpy
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    bootstrap = f"{'python3' if sys.platform != 'win32' else 'python'} scripts/bootstrap.py run"
    where = f"运行在其他虚拟环境 {sys.prefix}" if sys.prefix != sys.base_prefix else "未使用虚拟环境"
    python = f"Python {sys.version.split()[0]}"
    print(f"⚠️ {python}, {where}; 创建并安装依赖: {bootstrap} (此 Python 未安装本项目)", flush=True)
    dependencies = runpy.run_path(str(root / "serving" / "dependencies.py"))
    statuses = dependencies["check"](["requirements.txt"])
    wrong = dependencies["problems"](statuses)
    if wrong:
        print(f"❌ 依赖与 requirements.txt 不符 ({len(wrong)}/{len(statuses)}): {'; '.join(wrong)}", flush=True)
    return 1


if __name__ == "__main__":
    sys.exit(main() if main is not None else not_installed())
