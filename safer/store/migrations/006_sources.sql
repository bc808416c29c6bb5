-- Every indicator family from its own source (issue 6).

-- A batch is one landed file. Its slot is the file's identity over time: the month for a
-- data.police.uk monthly file ('2025-06'), the file name for a return dropped into a folder,
-- 'workbook' for a single published file. "The latest batch of a slot" decides what is in use,
-- quarantined or unchanged. A file may hold several periods (a workbook of ten financial years,
-- a return of four partnerships' quarter), listed in `periods`; `period` stays the latest of
-- them and is NULL when a file could not be read far enough to tell.
ALTER TABLE load_ledger ADD COLUMN slot VARCHAR;
ALTER TABLE load_ledger ADD COLUMN periods DATE[];
UPDATE load_ledger SET slot = strftime(period, '%Y-%m'), periods = [period];
ALTER TABLE load_ledger ALTER COLUMN period DROP NOT NULL;
ALTER TABLE quarantine ALTER COLUMN period DROP NOT NULL;

-- data.police.uk outcome labels changed over the years ("Offender given penalty notice" and
-- "Offender given a penalty notice"): compare them without case, articles or extra spaces.
CREATE MACRO outcome_key(label) AS trim(regexp_replace(
    regexp_replace(lower(label), '\b(a|an|the)\b', ' ', 'g'), '[^a-z0-9;]+', ' ', 'g'));

-- data.police.uk monthly outcomes file: one row per outcome recorded in the month (a crime may
-- have several). `period` is the month the outcomes were recorded.
CREATE TABLE police_outcomes (
    force_id VARCHAR NOT NULL,
    period DATE NOT NULL,
    batch_id VARCHAR NOT NULL,
    record_no BIGINT NOT NULL,
    crime_id VARCHAR,
    month VARCHAR NOT NULL,
    reported_by VARCHAR,
    falls_within VARCHAR,
    longitude DOUBLE,
    latitude DOUBLE,
    location VARCHAR,
    lsoa_code VARCHAR,
    lsoa_name VARCHAR,
    outcome_type VARCHAR NOT NULL,
    lad_code VARCHAR,
    csp_code VARCHAR                  -- NULL when the LSOA lies outside the force's CSPs
);

-- data.police.uk monthly stop-and-search file: one row per person or vehicle searched. The file
-- has coordinates but no LSOA, so its figures are for the force as a whole.
CREATE TABLE police_stop_search (
    force_id VARCHAR NOT NULL,
    period DATE NOT NULL,
    batch_id VARCHAR NOT NULL,
    record_no BIGINT NOT NULL,
    search_type VARCHAR NOT NULL,
    searched_at TIMESTAMPTZ NOT NULL,
    part_of_operation BOOLEAN,
    operation VARCHAR,
    latitude DOUBLE,
    longitude DOUBLE,
    gender VARCHAR,
    age_range VARCHAR,
    self_defined_ethnicity VARCHAR,
    officer_defined_ethnicity VARCHAR,
    legislation VARCHAR,
    object_of_search VARCHAR,
    outcome VARCHAR,
    outcome_linked BOOLEAN,           -- NULL where the file leaves it empty
    removal_of_clothing BOOLEAN
);

-- What the data.police.uk API last said (crime-last-updated, crimes-street-dates), so a run can
-- tell whether anything is new before it downloads a file.
CREATE TABLE api_state (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL,
    checked_at TIMESTAMPTZ NOT NULL
);

-- DEFRA fly-tipping incidents and enforcement actions, per local authority per financial year:
-- one row per LA row of the LA_actions sheet (or actions CSV), with Total Incidents from the
-- LA_incidents row of the same ONS code and year. DEFRA's aggregate rows (ONS Code '*Total')
-- are not loaded. NULL where DEFRA publishes ':' (not available), and incidents for a CSV
-- release, which holds the actions table only.
CREATE TABLE defra_flytipping (
    la_code VARCHAR NOT NULL,         -- ONS code: the join key (names vary between years)
    la_name VARCHAR,                  -- as published, trimmed; shown, never joined on
    period DATE NOT NULL,             -- 1 April of the financial year
    batch_id VARCHAR NOT NULL,
    actions_row BIGINT NOT NULL,      -- the row in LA_actions (or the CSV file's line)
    incidents_row BIGINT,             -- the row in LA_incidents; NULL for a CSV release
    total_actions BIGINT,
    investigations BIGINT,
    warning_letters BIGINT,
    statutory_notices BIGINT,
    fixed_penalty_notices BIGINT,
    duty_of_care_inspections BIGINT,
    stop_and_search BIGINT,
    vehicles_seized BIGINT,
    formal_cautions BIGINT,
    injunctions BIGINT,
    prosecutions BIGINT,
    incidents BIGINT,
    PRIMARY KEY (la_code, period)
);

-- The council enforcement return (templates/returns/council-enforcement-v1): one row per
-- Community Safety Partnership, quarter and action type.
CREATE TABLE council_enforcement (
    csp_code VARCHAR NOT NULL,
    period DATE NOT NULL,             -- first day of the financial-year quarter
    action_type VARCHAR NOT NULL,
    count BIGINT NOT NULL,
    batch_id VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    record_no BIGINT NOT NULL,
    notes VARCHAR,
    PRIMARY KEY (csp_code, period, action_type)
);

-- The call-handling return (templates/returns/call-handling-v1): one row per force and month.
CREATE TABLE call_handling (
    force_code VARCHAR NOT NULL,
    period DATE NOT NULL,
    batch_id VARCHAR NOT NULL,
    file_name VARCHAR NOT NULL,
    record_no BIGINT NOT NULL,
    calls_999 BIGINT NOT NULL,
    answered_999_under_10s BIGINT NOT NULL,
    answered_999_10_to_60s BIGINT NOT NULL,
    answered_999_60s_or_more BIGINT NOT NULL,
    average_answer_999_seconds DOUBLE NOT NULL,
    calls_101_offered BIGINT,
    calls_101_answered BIGINT,
    calls_101_abandoned BIGINT,
    average_wait_101_seconds DOUBLE,
    PRIMARY KEY (force_code, period)
);
