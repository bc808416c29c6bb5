-- Evaluations carry comparisons, the plan and target used, and the SPC signal (issue 3).
-- The table is derived afresh every run, so it is recreated rather than altered.
DROP TABLE evaluations;

CREATE TABLE evaluations (
    indicator_id VARCHAR NOT NULL,
    area_code VARCHAR NOT NULL,
    period_start DATE NOT NULL,
    status VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,
    value DOUBLE,
    months_loaded INTEGER NOT NULL,
    previous_quarter DOUBLE,
    last_year DOUBLE,
    rolling_12 DOUBLE,
    previous_rolling_12 DOUBLE,
    rest_of_force DOUBLE,
    comparator DOUBLE,
    plan_id VARCHAR,
    target_form VARCHAR,
    spc_variation VARCHAR NOT NULL,
    spc_assurance VARCHAR NOT NULL,
    spc_text VARCHAR NOT NULL,
    run_id VARCHAR NOT NULL,           -- the run that first produced this exact evaluation
    PRIMARY KEY (indicator_id, area_code, period_start)
);

-- Every evaluation as each run first produced it: the history behind the current table.
CREATE TABLE evaluation_log AS SELECT * FROM evaluations WITH NO DATA;

-- Mid-year population estimates per local authority (indicators/data/la_population.csv).
CREATE TABLE la_population (
    la_code VARCHAR NOT NULL,
    la_name VARCHAR NOT NULL,
    financial_year VARCHAR NOT NULL,
    population BIGINT NOT NULL,
    PRIMARY KEY (la_code, financial_year)
);
