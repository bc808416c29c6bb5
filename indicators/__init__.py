"""Indicators: the catalogue and plan (YAML), measurement (SQL) and evaluation (pure)."""
