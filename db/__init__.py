"""Data layer: engine, models, queries returning DataFrames, and the import pipeline."""
