-- Scheduler state (SQLite dialect; postgres/0003_scheduler.sql is the same schema).
-- A run claims (job, slot) under a unique key before it starts: the loser skips, so every
-- slot runs exactly once across consoles and daemons on the same database.

CREATE TABLE scheduler_runs (
    id          INTEGER PRIMARY KEY,
    job         TEXT    NOT NULL,
    slot        TEXT    NOT NULL,        -- the slot's instant (UTC); manual runs use their start
    trigger     TEXT    NOT NULL CHECK (trigger IN ('scheduled', 'catch-up', 'manual')),
    status      TEXT    NOT NULL CHECK (status IN ('running', 'ok', 'failed', 'skipped')),
    runner      TEXT    NOT NULL,        -- host:pid of the process that claimed it
    started_at  TEXT    NOT NULL,
    finished_at TEXT,
    result      TEXT    NOT NULL DEFAULT '',
    error       TEXT    NOT NULL DEFAULT '',
    UNIQUE (job, slot)
);
CREATE INDEX scheduler_runs_job ON scheduler_runs(job, started_at);

-- Who runs the scheduler: one row per live process, kept fresh by a heartbeat.
CREATE TABLE scheduler_runners (
    runner       TEXT    PRIMARY KEY,    -- host:pid
    kind         TEXT    NOT NULL CHECK (kind IN ('console', 'daemon')),
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL
);

-- Jobs switched off (or on) from the console, overriding the config's `enabled`.
CREATE TABLE scheduler_job_overrides (
    job        TEXT    PRIMARY KEY,
    enabled    BOOLEAN NOT NULL,
    changed_by TEXT    NOT NULL,
    changed_at TEXT    NOT NULL
);
