-- The backup catalogue (SQLite dialect; postgres/0002_backups.sql is the same table).
-- The archives in the store are the truth: this table is an index that `somiti backup`
-- rebuilds from their manifests when it is missing or behind.

CREATE TABLE backups (
    id            TEXT    PRIMARY KEY,            -- the archive's backup_id (UUID)
    file          TEXT    NOT NULL,               -- file name inside the store
    kind          TEXT    NOT NULL CHECK (kind IN ('manual', 'scheduled', 'pre-restore')),
    scope         TEXT    NOT NULL,               -- 'all' or an organization code
    status        TEXT    NOT NULL CHECK (status IN ('in_progress', 'completed', 'failed', 'deleted')),
    error         TEXT,
    created_at    TEXT    NOT NULL,               -- the snapshot's time (manifest created_at)
    created_by    TEXT    NOT NULL,
    finished_at   TEXT,
    size_bytes    INTEGER,
    total_rows    INTEGER,
    sha256        TEXT,                           -- of the whole archive file
    encrypted     BOOLEAN NOT NULL DEFAULT 0,
    verified_at   TEXT,
    verify_result TEXT,                           -- 'ok' or the failed check
    pinned        BOOLEAN NOT NULL DEFAULT 0,
    missing_since TEXT                            -- set when the file vanished from the store
);
CREATE INDEX backups_created ON backups(created_at);
CREATE INDEX backups_file ON backups(file);
