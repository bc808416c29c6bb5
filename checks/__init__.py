"""Data-quality checks: suites as data, run by Great Expectations on a staged batch."""
