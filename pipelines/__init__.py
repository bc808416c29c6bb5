"""Pipelines: fetch published sources, land them, stage them as text and promote checked rows
into their tables; one module per source (``source.Source``). The checks are not theirs: a
source meets its suite in ``safer.app.sources``."""
