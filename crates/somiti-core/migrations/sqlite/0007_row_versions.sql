-- Live data (PostgreSQL dialect: postgres/0007_row_versions.sql).
-- Row versions: members and workers carry a version that every change bumps, and who made
-- the last change and when, so an edit made from a stale screen is refused (optimistic
-- concurrency). Rows from before this migration, and rows a restore loads, start at 1.
ALTER TABLE members ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE members ADD COLUMN updated_by TEXT;
ALTER TABLE members ADD COLUMN updated_at TEXT;
ALTER TABLE workers ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE workers ADD COLUMN updated_by TEXT;
ALTER TABLE workers ADD COLUMN updated_at TEXT;

-- One row per committed transaction that changed ledger data: which tables, how many rows,
-- who (the actor of the transaction's audit entry) and from which process. Open consoles
-- read it to refresh what they show. Not ledger data: never in an archive, never restored
-- (a restore adds its own row); old rows are trimmed as new ones come.
CREATE TABLE change_log (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT    NOT NULL,
    actor    TEXT    NOT NULL,
    action   TEXT    NOT NULL DEFAULT '',
    org_code TEXT,
    -- JSON object: table name -> rows inserted, updated or deleted
    tables   TEXT    NOT NULL,
    -- the process that committed it (host:pid:start), so a console can skip its own
    origin   TEXT    NOT NULL DEFAULT ''
);
