-- Operator releases of quarantined batches (`safer quarantine release`, issue 4).
-- A release is a ledger row of its own (status 'released', batch_id '<batch>:released:<run>')
-- because the quarantined row keeps the batch's id; these columns say which batch it put into
-- use, who released it and why. Ordinary loads leave them NULL.
ALTER TABLE load_ledger ADD COLUMN released_batch VARCHAR;
ALTER TABLE load_ledger ADD COLUMN actor VARCHAR;
ALTER TABLE load_ledger ADD COLUMN note VARCHAR;
