-- Judgements an analyst can defend (issue 16).

-- An outcome rate's cohort: the crimes recorded in the period that had no outcome yet when the
-- file was published ("Under investigation", "Status update unavailable"). They are left out
-- of the rate's numerator and denominator and counted here, so the share pending can be shown
-- beside the rate and two cohorts seen at different ages are not compared as if alike.
ALTER TABLE observations ADD COLUMN pending DOUBLE;
-- What a rate per head divides by, in words: "mid-2021 population".
ALTER TABLE observations ADD COLUMN denominator_note VARCHAR;

ALTER TABLE evaluations ADD COLUMN pending_share DOUBLE;
ALTER TABLE evaluations ADD COLUMN comparison_pending_share DOUBLE;
ALTER TABLE evaluations ADD COLUMN denominator_note VARCHAR;
ALTER TABLE evaluation_log ADD COLUMN pending_share DOUBLE;
ALTER TABLE evaluation_log ADD COLUMN comparison_pending_share DOUBLE;
ALTER TABLE evaluation_log ADD COLUMN denominator_note VARCHAR;

-- Population by mid-year estimate (the year of the estimate, not a financial year), with the
-- release each figure comes from: a user can replace the file with ONS's latest release
-- ([indicators] population_file). The rows held are kept (a financial year's estimate is the
-- mid-year of its first year: 2021-22 held mid-2021), and the next run reloads the files.
CREATE TABLE la_population_by_year (
    la_code VARCHAR NOT NULL,
    la_name VARCHAR NOT NULL,
    mid_year INTEGER NOT NULL,
    population BIGINT NOT NULL,
    source VARCHAR NOT NULL,
    PRIMARY KEY (la_code, mid_year)
);
INSERT INTO la_population_by_year
SELECT la_code, la_name, CAST(left(financial_year, 4) AS INTEGER), population,
       'loaded before migration 010 for ' || financial_year
FROM la_population;
DROP TABLE la_population;
ALTER TABLE la_population_by_year RENAME TO la_population;
UPDATE reference_data SET sha256 = 'reload: migration 010' WHERE name = 'la_population.csv';
