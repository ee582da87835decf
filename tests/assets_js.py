"""Run a Node.js snippet against assets/dashAgGridFunctions.js (the browser-side formatters and
renderers), so their output can be compared with Python's."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from config import PROJECT_ROOT

GRID_FUNCTIONS = PROJECT_ROOT / "assets" / "dashAgGridFunctions.js"


def run_grid_js(node_script: str, payload: object) -> object:
    """``node_script`` gets the script's path as argv[1] and ``payload`` as JSON in argv[2]; its
    stdout is parsed as JSON. Skips when node is not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    done = subprocess.run([node, "-e", node_script, str(GRID_FUNCTIONS), json.dumps(payload)], capture_output=True,
                          text=True, timeout=30, check=True)  # fmt: skip
    return json.loads(done.stdout)
