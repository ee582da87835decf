#!/usr/bin/env bash
# Debug server: Dash dev server with hot reload, 127.0.0.1 only.
# Usage: scripts/start-debug.sh [--port 8051] [--no-seed] [--start-redis] ... (passed to scripts/launch.py)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ ! -x "$ROOT/.venv/bin/python" ]]; then
  echo "❌ 未找到虚拟环境 $ROOT/.venv; 先运行: python3 scripts/bootstrap.py run" >&2
  exit 1
fi
cd "$ROOT"  # a relative O2O_DATA_DIR (e.g. var) means the project's var/
exec "$ROOT/.venv/bin/python" "$ROOT/scripts/launch.py" debug "$@"
