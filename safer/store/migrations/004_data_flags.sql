-- The cross-source checks (issue 4): what each run of the suite flagged, and when it ran.

-- Each run of the cross-source suite, with a fingerprint of what it looked at: while the
-- fingerprint holds, the suite is not run again.
CREATE TABLE data_flag_runs (
    run_id VARCHAR PRIMARY KEY,
    batch_id VARCHAR NOT NULL,            -- the check_results batch of this suite run
    fingerprint VARCHAR NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL
);

-- The flags of the latest suite run: errors withhold figures, warnings are shown beside them.
CREATE TABLE data_flags (
    run_id VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,            -- error | warning
    indicator_id VARCHAR,                 -- NULL: a source month, covering all its indicators
    source VARCHAR,
    area_code VARCHAR,
    period DATE NOT NULL,
    sentence VARCHAR NOT NULL
);

-- A warning shown beside the figure, kept with the evaluation it belongs to.
ALTER TABLE evaluations ADD COLUMN data_warning VARCHAR;
ALTER TABLE evaluation_log ADD COLUMN data_warning VARCHAR;

-- Every check result with the run that produced it: batches of a source through the ledger,
-- cross-source suite runs through data_flag_runs.
CREATE VIEW check_log AS
SELECT coalesce(l.run_id, f.run_id) AS run_id, c.*
FROM check_results c
LEFT JOIN load_ledger l USING (batch_id)
LEFT JOIN data_flag_runs f ON f.batch_id = c.batch_id;
