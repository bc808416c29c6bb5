-- Delivery exactly once, and a ledger of what each digest said (issue 5).

-- The outbox row's state machine (alerts/outbox.py):
--   pending ──▶ sending ──▶ sent
--      ▲           │ ──▶ failed     (a permanent SMTP refusal: 5xx)
--      └───────────┘                (a temporary failure: 4xx, timeout, server down)
-- `sending` is committed before the message is handed to SMTP. A row still `sending` when a
-- later run starts was interrupted (the process died mid-send, perhaps after the server accepted
-- it): that run re-sends the stored bytes with the same Message-ID ("reconcile").
-- `written` rows (no [smtp] configured) are never sent.
ALTER TABLE outbox ADD COLUMN run_id VARCHAR;          -- the run that built the digest
ALTER TABLE outbox ADD COLUMN kind VARCHAR DEFAULT 'digest';  -- digest | resend
ALTER TABLE outbox ADD COLUMN resend_of VARCHAR;       -- for a resend: the original digest_id
ALTER TABLE outbox ADD COLUMN message BLOB;            -- the exact message; the .eml is a copy
ALTER TABLE outbox ADD COLUMN period VARCHAR;          -- the digest's latest quarter, as shown
ALTER TABLE outbox ADD COLUMN plan_name VARCHAR;       -- the plan it was judged against
ALTER TABLE outbox ADD COLUMN notes VARCHAR;           -- JSON list: the data notes as shown

-- Digests stored before this migration: the run that was under way when each was created.
UPDATE outbox SET run_id = (
    SELECT arg_max(r.run_id, r.started_at) FROM runs r WHERE r.started_at <= outbox.created_at
);

-- Every hand-over of a message to SMTP, and how it ended.
CREATE TABLE delivery_attempts (
    digest_id VARCHAR NOT NULL,
    attempt INTEGER NOT NULL,             -- 1, 2, … over the digest's life
    run_id VARCHAR,                       -- NULL for `safer digest --resend`
    reason VARCHAR NOT NULL,              -- first | retry | next_run | reconcile
    message_id VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL,
    outcome VARCHAR NOT NULL,             -- sending | sent | temporary | permanent | interrupted
    error VARCHAR,
    PRIMARY KEY (digest_id, attempt)
);

-- One row per item of each digest as it was built: the figures, statuses, reasons and the
-- target in force, so a past digest can be reproduced after data or plans are revised.
CREATE TABLE delivery_ledger (
    digest_id VARCHAR NOT NULL,
    position INTEGER NOT NULL,            -- order in the digest's tables
    section VARCHAR,                      -- the plan priority (or monitoring) it was shown under
    indicator_id VARCHAR,                 -- NULL for a block with no figures
    indicator VARCHAR NOT NULL,
    area_code VARCHAR,
    area VARCHAR,
    period VARCHAR,
    period_start DATE,
    value VARCHAR,                        -- as shown ("2.01 per 1,000", "withheld")
    value_number DOUBLE,                  -- the figure itself; NULL when withheld
    vs_last_quarter VARCHAR,
    vs_last_year VARCHAR,
    status VARCHAR NOT NULL,              -- green | amber | red | … | not_shown
    status_label VARCHAR,
    reason VARCHAR NOT NULL,
    details VARCHAR,
    warning VARCHAR,
    movement VARCHAR,                     -- newly off track | worsened | … when it was a movement
    is_new BOOLEAN NOT NULL,              -- a (indicator, area, quarter, status) not told before
    plan_id VARCHAR,
    target_form VARCHAR,
    target VARCHAR,                       -- JSON: the plan's target as it stood
    comparator DOUBLE,                    -- the level the status was judged against
    spc_variation VARCHAR,
    spc_assurance VARCHAR,
    PRIMARY KEY (digest_id, position)
);

-- What was delivered to whom and when, item by item (a resend carries its original's items).
CREATE VIEW delivered_items AS
SELECT o.digest_id AS delivered_digest_id, o.kind, o.run_id, o.recipient, o.email,
       o.message_id, o.sent_at, l.*
FROM outbox o
JOIN delivery_ledger l ON l.digest_id = coalesce(o.resend_of, o.digest_id)
WHERE o.status = 'sent';
