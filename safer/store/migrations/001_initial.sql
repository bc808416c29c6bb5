-- The first schema. Later changes go in new numbered files; applied ones are never edited.

CREATE TABLE lad_lookup (
    lad_code VARCHAR PRIMARY KEY,
    lad_name VARCHAR NOT NULL,
    csp_code VARCHAR NOT NULL,
    csp_name VARCHAR NOT NULL,
    pfa_code VARCHAR NOT NULL,
    pfa_name VARCHAR NOT NULL
);

-- The areas a run reports on: the force (area_type 'force') and its CSPs ('csp').
CREATE TABLE areas (
    area_code VARCHAR PRIMARY KEY,
    area_name VARCHAR NOT NULL,
    area_type VARCHAR NOT NULL,
    pfa_code VARCHAR NOT NULL
);

-- Every load attempt of a period of a source: the history.
CREATE TABLE load_ledger (
    batch_id VARCHAR PRIMARY KEY,
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    period DATE NOT NULL,
    url VARCHAR NOT NULL,
    file_path VARCHAR,
    content_hash VARCHAR,
    rows BIGINT,
    outside_area_rows BIGINT,
    status VARCHAR NOT NULL,          -- loaded | revised | quarantined | failed
    error VARCHAR,
    revision_of VARCHAR,              -- the batch this one replaced, when a month was revised
    etag VARCHAR,
    last_modified VARCHAR,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ NOT NULL
);

-- The current state of each period of each source: what is in use now.
CREATE TABLE source_periods (
    source VARCHAR NOT NULL,
    period DATE NOT NULL,
    batch_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    etag VARCHAR,
    last_modified VARCHAR,
    rows BIGINT NOT NULL,
    outside_area_rows BIGINT NOT NULL,
    PRIMARY KEY (source, period)
);

CREATE TABLE police_street (
    force_id VARCHAR NOT NULL,
    period DATE NOT NULL,
    batch_id VARCHAR NOT NULL,
    record_no BIGINT NOT NULL,        -- 1-based data row in the published file
    crime_id VARCHAR,
    month VARCHAR NOT NULL,
    reported_by VARCHAR,
    falls_within VARCHAR,
    longitude DOUBLE,
    latitude DOUBLE,
    location VARCHAR,
    lsoa_code VARCHAR,
    lsoa_name VARCHAR,
    crime_type VARCHAR NOT NULL,
    last_outcome_category VARCHAR,
    context VARCHAR,
    lad_code VARCHAR,
    csp_code VARCHAR                  -- NULL when the LSOA lies outside the force's CSPs
);

-- data.police.uk outcome label → outcome group (indicators/data/outcome_groups.csv).
CREATE TABLE outcome_groups (
    label VARCHAR PRIMARY KEY,
    group_name VARCHAR NOT NULL,
    positive BOOLEAN NOT NULL
);

-- Batches held back by an error-level check, with the reason per failed check.
CREATE TABLE quarantine (
    batch_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    period DATE NOT NULL,
    file_path VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    message VARCHAR NOT NULL,
    sample VARCHAR,                   -- JSON list of failing rows or values
    created_at TIMESTAMPTZ NOT NULL,
    released_at TIMESTAMPTZ,
    PRIMARY KEY (batch_id, check_id)
);

CREATE TABLE check_results (
    batch_id VARCHAR NOT NULL,
    suite VARCHAR NOT NULL,
    check_id VARCHAR NOT NULL,
    severity VARCHAR NOT NULL,
    success BOOLEAN NOT NULL,
    observed VARCHAR,
    unexpected_count BIGINT,
    message VARCHAR,
    PRIMARY KEY (batch_id, check_id)
);

CREATE TABLE observations (
    indicator_id VARCHAR NOT NULL,
    area_code VARCHAR NOT NULL,
    grain VARCHAR NOT NULL,           -- month | quarter
    period_start DATE NOT NULL,
    months_loaded INTEGER NOT NULL,
    value DOUBLE,
    numerator DOUBLE NOT NULL,
    denominator DOUBLE,
    PRIMARY KEY (indicator_id, area_code, grain, period_start)
);

CREATE TABLE evaluations (
    indicator_id VARCHAR NOT NULL,
    area_code VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    status VARCHAR NOT NULL,
    value DOUBLE,
    comparator_value DOUBLE,
    comparator_period DATE,
    reason VARCHAR NOT NULL,
    PRIMARY KEY (indicator_id, area_code, period_start)
);

-- What each recipient has been told: the key that stops an item being sent twice.
CREATE TABLE notifications (
    recipient VARCHAR NOT NULL,
    indicator_id VARCHAR NOT NULL,
    area_code VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    status VARCHAR NOT NULL,
    digest_id VARCHAR NOT NULL,
    PRIMARY KEY (recipient, indicator_id, area_code, period_start, status)
);

CREATE TABLE outbox (
    digest_id VARCHAR PRIMARY KEY,
    recipient VARCHAR NOT NULL,
    email VARCHAR NOT NULL,
    subject VARCHAR NOT NULL,
    message_id VARCHAR NOT NULL,
    eml_path VARCHAR NOT NULL,
    html_path VARCHAR NOT NULL,
    status VARCHAR NOT NULL,          -- pending | sent | failed | written (no SMTP configured)
    attempts INTEGER NOT NULL,
    last_error VARCHAR,
    created_at TIMESTAMPTZ NOT NULL,
    sent_at TIMESTAMPTZ
);

CREATE TABLE runs (
    run_id VARCHAR PRIMARY KEY,
    as_of DATE NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    exit_code INTEGER
);

CREATE TABLE run_units (
    run_id VARCHAR NOT NULL,
    unit VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,
    message VARCHAR NOT NULL
);
