-- Unattended operation (issue 7): each source's health, the operator's alerts, how runs ended.

-- A source's run-by-run health: a failing source is retried with backoff and, after enough
-- failures in a row, reported to the operator once per streak.
CREATE TABLE source_health (
    source VARCHAR PRIMARY KEY,
    consecutive_failures INTEGER NOT NULL,
    last_success_at TIMESTAMPTZ,
    last_failure_at TIMESTAMPTZ,
    last_error VARCHAR,
    next_attempt_at TIMESTAMPTZ           -- NULL: try at every run
);

-- Emails to the operator (a failed run, a source failing repeatedly, no run in the expected
-- window). `alert_key` makes each alert once: the same failure streak is not reported twice.
CREATE TABLE operator_alerts (
    alert_key VARCHAR PRIMARY KEY,
    kind VARCHAR NOT NULL,                -- run_failed | source_failing | run_overdue
    subject VARCHAR NOT NULL,
    body VARCHAR NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    status VARCHAR NOT NULL,              -- pending | sent | not_sent (no operator or SMTP set)
    attempts INTEGER NOT NULL,
    sent_at TIMESTAMPTZ,
    last_error VARCHAR
);

-- How a run ended, beside its exit code: finished | stopped (SIGTERM/SIGINT after a unit).
ALTER TABLE runs ADD COLUMN status VARCHAR;
ALTER TABLE runs ADD COLUMN summary VARCHAR;
-- A fingerprint of everything the figures are computed from (loaded batches, quarantine,
-- catalogue, plans, settings, code); a run whose inputs match the last assessed run's skips
-- measuring, evaluating and building digests: nothing in them can differ.
ALTER TABLE runs ADD COLUMN inputs VARCHAR;

-- The bundled reference tables (ONS lookup, outcome mapping, populations) with the hash of the
-- file each was loaded from: an unchanged file is not loaded again at every run.
CREATE TABLE reference_data (
    name VARCHAR PRIMARY KEY,
    sha256 VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);
