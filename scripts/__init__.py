"""Command-line entry points (launcher, importer, demo generator, doctor, load test, benchmarks);
the underscore modules are what several of them share. Importable because the project is
installed (pyproject.toml); the server they start is the ``serving`` package."""
