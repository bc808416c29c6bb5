"""Data-quality checks: each check one declarative ``Check``, run by Great Expectations on a
staged batch and by plain SQL over many files for the backfill. Never imports the pipelines."""
