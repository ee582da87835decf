"""Reusable Dash component factories (no data access)."""
