"""Operations scripts: check_deps against the real venv, configure_redis against a private
redis-server, the PowerShell wrappers parsed with tree-sitter, the bash wrappers' basics."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import pytest
import redis

from config import PROJECT_ROOT
from serving.dependencies import DepStatus, check
from tests.conftest import service_missing
from tests.live_server import free_port

SCRIPTS = PROJECT_ROOT / "scripts"


def run(args: list[str], timeout: int = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_ROOT, capture_output=True, text=True, encoding="utf-8",
        timeout=timeout, env={**os.environ, "PYTHONUTF8": "1"},
    )  # fmt: skip


# --- check_deps -------------------------------------------------------------------------------


def test_ops001_check_deps_real_venv_satisfies_requirements():
    result = run(["scripts/check_deps.py"])
    assert result.returncode == 0, result.stdout + result.stderr
    pinned = [line for line in (PROJECT_ROOT / "requirements.txt").read_text().splitlines() if "==" in line]
    assert f"{len(pinned)}/{len(pinned)} 依赖满足" in result.stdout
    assert "dash-bootstrap-components" in result.stdout and "❌" not in result.stdout


def test_ops002_check_api_follows_includes_and_normalises_names(tmp_path):
    statuses = {s.name: s for s in check(["requirements-test.txt"])}
    assert statuses["pytest"] == DepStatus(
        "pytest", f"=={metadata.version('pytest')}", metadata.version("pytest"), True
    )
    assert statuses["flask-caching"].ok  # from requirements.txt via -r, spelled Flask-Caching there
    assert "dash" in statuses


def test_ops003_check_deps_reports_wrong_pin_and_missing_package(tmp_path):
    redis_version = metadata.version("redis")
    (tmp_path / "base.txt").write_text(f"Flask_Caching=={metadata.version('flask-caching')}  # spelled oddly\n")
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        "# a comment\n\n-r base.txt\n"
        f"redis==0.0.1\npsutil=={metadata.version('psutil')}\nsurely-not-installed-o2o==1.0\n"
    )
    statuses = {s.name: s for s in check([requirements])}
    assert statuses["flask-caching"].ok and statuses["psutil"].ok
    assert statuses["redis"] == DepStatus("redis", "==0.0.1", redis_version, False)
    assert statuses["surely-not-installed-o2o"] == DepStatus("surely-not-installed-o2o", "==1.0", None, False)

    result = run(["scripts/check_deps.py", str(requirements)])
    assert result.returncode == 1
    assert "❌ 缺少: surely-not-installed-o2o" in result.stdout
    assert f"❌ 版本不符: redis {redis_version} (要求 ==0.0.1)" in result.stdout
    assert "2/4 依赖满足" in result.stdout


# --- configure_redis --------------------------------------------------------------------------


def _limits(url: str) -> tuple[str, str]:
    client = redis.Redis.from_url(url, decode_responses=True)
    try:
        return client.config_get("maxmemory")["maxmemory"], client.config_get("maxmemory-policy")["maxmemory-policy"]
    finally:
        client.close()


def test_ops004_configure_redis_shows_then_sets(private_redis):
    url = private_redis.url  # started with maxmemory 64mb, allkeys-lru
    shown = run(["scripts/configure_redis.py", "--url", url, "--show"])
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert "当前: maxmemory 64mb, maxmemory-policy allkeys-lru" in shown.stdout
    assert _limits(url) == (str(64 << 20), "allkeys-lru")

    changed = run(["scripts/configure_redis.py", "--url", url, "--maxmemory", "100mb", "--policy", "allkeys-lfu"])
    assert changed.returncode == 0, changed.stdout + changed.stderr
    assert "修改前: maxmemory 64mb, maxmemory-policy allkeys-lru" in changed.stdout
    assert "修改后: maxmemory 100mb, maxmemory-policy allkeys-lfu" in changed.stdout
    assert _limits(url) == (str(100 << 20), "allkeys-lfu")

    refused = run(["scripts/configure_redis.py", "--url", url, "--maxmemory", "1gb", "--policy", "most-lru"])
    assert refused.returncode == 1 and "Redis 拒绝设置" in refused.stdout
    assert _limits(url) == (str(100 << 20), "allkeys-lfu")  # all or nothing

    no_file = run(["scripts/configure_redis.py", "--url", url, "--persist"])
    assert no_file.returncode == 1
    assert "CONFIG REWRITE 失败: redis-server 启动时没有指定配置文件" in no_file.stdout


def test_ops005_configure_redis_persist_rewrites_config_file(tmp_path):
    binary = shutil.which("redis-server")
    if binary is None:
        service_missing("redis-server binary not installed")
    port = free_port()
    conf = tmp_path / "redis.conf"
    conf.write_text(f'port {port}\nbind 127.0.0.1\nsave ""\nappendonly no\ndir {tmp_path}\nmaxmemory 16mb\n')
    server = subprocess.Popen([binary, str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}/0"
    try:
        _wait_for_redis(url)
        result = run(["scripts/configure_redis.py", "--url", url, "--maxmemory", "32mb", "--policy",
                      "volatile-lru", "--persist"])  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        assert f"✅ 已写回配置文件 {conf}" in result.stdout
        lines = conf.read_text().splitlines()
        assert "maxmemory 32mb" in lines and "maxmemory-policy volatile-lru" in lines
        assert "maxmemory 16mb" not in lines
    finally:
        server.kill()
        server.wait(timeout=10)


def test_ops006_configure_redis_unreachable_is_one_line_exit_2():
    url = f"redis://127.0.0.1:{free_port()}/0"
    result = run(["scripts/configure_redis.py", "--url", url, "--show"])
    assert result.returncode == 2
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"❌ 无法连接 Redis ({url})"), result.stdout
    assert result.stderr == ""


def _wait_for_redis(url: str) -> None:
    client = redis.Redis.from_url(url, socket_timeout=0.2)
    for _ in range(100):
        try:
            client.ping()
            return
        except redis.RedisError:
            time.sleep(0.05)
    raise RuntimeError(f"redis-server at {url} did not start")


# --- wrappers ---------------------------------------------------------------------------------

MODES = ("debug", "production")


def _powershell_parser():
    tree_sitter = pytest.importorskip("tree_sitter")
    grammar = pytest.importorskip("tree_sitter_powershell")
    return tree_sitter.Parser(tree_sitter.Language(grammar.language()))


def _nodes(node):
    yield node
    for child in node.children:
        yield from _nodes(child)


def _problems(tree) -> list[str]:
    return [f"{n.type} at {n.start_point}" for n in _nodes(tree.root_node) if n.type == "ERROR" or n.is_missing]


def _launcher_calls(tree) -> list[list[tuple[str, str]]]:
    """Arguments of every `& $python ... scripts/launch.py ...` command: [(node type, text)]."""
    calls = []
    for node in _nodes(tree.root_node):
        if node.type != "command" or node.child_by_field_name("command_elements") is None:
            continue
        if not any(child.type == "command_invokation_operator" for child in node.children):
            continue
        elements = node.child_by_field_name("command_elements")
        arguments = [(c.type, c.text.decode()) for c in elements.children if c.type != "command_argument_sep"]
        if any("scripts/launch.py" in text for _, text in arguments):
            calls.append(arguments)
    return calls


@pytest.mark.parametrize("mode", MODES)
def test_ops007_powershell_wrapper_parses_and_calls_launcher(mode):
    parser = _powershell_parser()
    source = (SCRIPTS / f"start-{mode}.ps1").read_bytes()
    source.decode("ascii")  # Windows PowerShell 5.1 reads BOM-less scripts in the ANSI code page
    tree = parser.parse(source)
    assert _problems(tree) == []
    calls = _launcher_calls(tree)
    assert len(calls) == 1, calls
    (_, script), (mode_type, mode_word), (_, splat) = calls[0]
    assert script == '"$root/scripts/launch.py"'
    assert (mode_type, mode_word) == ("generic_token", mode)
    assert splat == "@args"
    text = source.decode()
    assert "$PSScriptRoot" in text and ".venv\\Scripts\\python.exe" in text and "bootstrap.py run" in text
    assert "$code = $LASTEXITCODE" in text and text.rstrip().endswith("exit $code")
    assert "[Console]::OutputEncoding = [System.Text.Encoding]::UTF8" in text


def test_ops008_broken_powershell_is_detected():
    parser = _powershell_parser()
    source = (SCRIPTS / "start-debug.ps1").read_text()
    broken = source.replace("    Pop-Location\n", "    Pop-Location (\n", 1)
    assert broken != source
    problems = _problems(parser.parse(broken.encode()))
    assert any(p.startswith("ERROR") for p in problems), problems


@pytest.mark.parametrize("mode", MODES)
def test_ops009_bash_wrapper_is_executable_and_valid(mode):
    path = SCRIPTS / f"start-{mode}.sh"
    assert os.access(path, os.X_OK), f"{path} lacks the executable bit"
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True, timeout=10).returncode == 0
    text = path.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert f'exec "$ROOT/.venv/bin/python" "$ROOT/scripts/launch.py" {mode} "$@"' in text


def test_ops010_bash_wrapper_without_venv_says_how_to_make_one(tmp_path):
    copy = tmp_path / "scripts" / "start-production.sh"
    copy.parent.mkdir()
    shutil.copy2(SCRIPTS / "start-production.sh", copy)
    result = subprocess.run([str(copy)], capture_output=True, text=True, timeout=10, cwd=tmp_path)
    assert result.returncode == 1
    assert f"未找到虚拟环境 {Path(tmp_path).resolve()}/.venv" in result.stderr
    assert "python3 scripts/bootstrap.py run" in result.stderr
