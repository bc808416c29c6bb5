-- Many forces in one database (issue 8): a national backfill loads every force's monthly files,
-- and figures are made per force from the months each force has loaded.

-- data.police.uk's force slugs for the ONS police force areas (pipelines/data/police_forces.csv).
CREATE TABLE police_forces (
    pfa_code VARCHAR PRIMARY KEY,
    pfa_name VARCHAR NOT NULL,
    force_id VARCHAR NOT NULL UNIQUE,
    force_name VARCHAR NOT NULL
);

-- Which periods of which source each force has in use: the grid figures are made on (a force
-- with no file for a month has no figures for it, not zeros). `source_periods` stays the view
-- of the configured force that fetching, freshness and quarantine use.
CREATE TABLE force_periods (
    source VARCHAR NOT NULL,
    pfa_code VARCHAR NOT NULL,
    period DATE NOT NULL,
    batch_id VARCHAR NOT NULL,
    rows BIGINT NOT NULL,
    outside_area_rows BIGINT NOT NULL,
    PRIMARY KEY (source, pfa_code, period)
);

-- A database of one force has one force row in `areas`: its periods are that force's.
INSERT INTO force_periods
SELECT p.source, a.area_code, p.period, p.batch_id, p.rows, p.outside_area_rows
FROM source_periods p JOIN areas a ON a.area_type = 'force';

-- The force a batch belongs to (NULL for batches loaded before this migration: the configured
-- force's).
ALTER TABLE load_ledger ADD COLUMN force_id VARCHAR;
