"""Pipelines: fetch published sources, land them, stage, check and load them into DuckDB."""
