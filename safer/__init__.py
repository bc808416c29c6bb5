"""safer: watches a Police and Crime Plan's indicators and emails officers when they move.

The one import name. Its layers, each importing only those below it (README "Architecture",
enforced by ``.importlinter``): ``scheduler`` (the command line), ``app`` (the batch life cycle,
the run, the backfill), ``alerts``, ``indicators``, ``checks`` and ``pipelines`` (which never
import each other), ``store`` (DuckDB) and ``kernel`` (config, errors, periods, logging).
"""
