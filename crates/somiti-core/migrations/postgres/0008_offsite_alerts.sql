-- Off-site copies and alerts (SQLite dialect: sqlite/0008_offsite_alerts.sql).
-- None of these tables is ledger data: never in an archive, never restored.

-- This database's identity: `database_id` is written into every archive's manifest, so a
-- target's prune deletes only archives it can prove are of this database. A restore of
-- everything adopts the archive's id (the database becomes the one the archive was of).
CREATE TABLE somiti_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- One row per backup and off-site target: where the copy is and whether it was read back.
CREATE TABLE offsite_copies (
    backup_id   TEXT    NOT NULL,
    target      TEXT    NOT NULL,                 -- [[offsite]] name
    object_key  TEXT    NOT NULL,                 -- path of the object inside the target
    status      TEXT    NOT NULL CHECK (status IN ('pending', 'copying', 'verified', 'failed', 'deleted')),
    size_bytes  BIGINT,                          -- read back from the target
    sha256      TEXT,                             -- read back from the target
    attempts    BIGINT  NOT NULL DEFAULT 0,
    error       TEXT,                             -- the last failure, in words
    next_try_at TIMESTAMPTZ,                             -- a failed copy is retried from then on
    runner      TEXT,                             -- the process copying it now (host:pid:start)
    beat_at     TIMESTAMPTZ,                             -- that process's last sign of life
    verified_at TIMESTAMPTZ,
    updated_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (backup_id, target)
);
CREATE INDEX offsite_copies_status ON offsite_copies(status, next_try_at);

-- Alerts: one row per channel and thing that fires ("job:daily-backup", "stale:backup",
-- "offsite:bucket"). A scheduler sends only after winning the row's update, so two
-- schedulers never send one event twice, and a firing alert repeats at most every
-- repeat_hours.
CREATE TABLE alert_state (
    channel      TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    firing       BOOLEAN NOT NULL DEFAULT FALSE,
    since        TIMESTAMPTZ,                            -- when it began firing
    last_sent_at TIMESTAMPTZ,
    sends        BIGINT  NOT NULL DEFAULT 0,
    detail       TEXT,                            -- the last event's reason
    PRIMARY KEY (channel, key)
);
