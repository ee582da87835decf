# Debug server: Dash dev server with hot reload, 127.0.0.1 only.
# Usage: .\scripts\start-debug.ps1 [--port 8051] [--no-seed] [--start-redis] ... (passed to scripts/launch.py)
# ASCII only: Windows PowerShell 5.1 reads a script without BOM in the ANSI code page.
$root = (Resolve-Path (Join-Path $PSScriptRoot '..')).Path
$python = @(
    (Join-Path $root '.venv\Scripts\python.exe'),
    (Join-Path $root '.venv/bin/python')
) | Where-Object { Test-Path -LiteralPath $_ -PathType Leaf } | Select-Object -First 1
if (-not $python) {
    Write-Host "Virtual environment not found: $root\.venv"
    Write-Host "Create it first:  python scripts\bootstrap.py run   (Linux/macOS: python3 scripts/bootstrap.py run)"
    exit 1
}

# The launcher prints UTF-8 (Chinese, check marks); the console shows it as UTF-8 until we return.
$consoleEncoding = [Console]::OutputEncoding
[Console]::OutputEncoding = [System.Text.Encoding]::UTF8
$env:PYTHONUTF8 = '1'
$env:PYTHONIOENCODING = 'utf-8'
# A relative O2O_DATA_DIR (e.g. var) means the project's var/.
Push-Location $root
try {
    & $python "$root/scripts/launch.py" debug @args
    $code = $LASTEXITCODE
} finally {
    Pop-Location
    [Console]::OutputEncoding = $consoleEncoding
}
exit $code
