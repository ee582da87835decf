"""Glue between pages and db/analytics: one function per view-model."""
