-- Returns as a set, not a stream (issue 15): a return source's figures are those of the files
-- present now (pipelines/return_set.py).

-- Which (area, period) pairs each return file in use holds: its partnership-quarters (council
-- enforcement) or its months (call handling, the area being the force). Written with the
-- file's rows, in the same transaction. A pair held by one file has that file's rows in the
-- source table; a pair held by two or more is a conflict and has no rows until all but one of
-- the files are removed. A withdrawn file's claims go with its rows.
--
-- Empty after this migration: the first run reads every present return file again, so the
-- claims are those of the files as they are, not of whichever file happened to load last.
CREATE TABLE return_claims (
    source VARCHAR NOT NULL,
    force_id VARCHAR NOT NULL,
    slot VARCHAR NOT NULL,            -- the file's name (load_ledger.slot)
    batch_id VARCHAR NOT NULL,        -- the file's batch in use
    area_code VARCHAR NOT NULL,
    period DATE NOT NULL,
    PRIMARY KEY (source, force_id, slot, area_code, period)
);

-- load_ledger.status gains `withdrawn`: a file in use that is no longer present; its rows were
-- removed (`rows` counts them, `revision_of` names the batch withdrawn, `note` says why).
