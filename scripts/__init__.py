"""Command-line scripts (launcher, importer, demo generator, benchmarks, operations)."""
