-- The backup catalogue (PostgreSQL dialect; sqlite/0002_backups.sql is the same table).
-- The archives in the store are the truth: this table is an index that `somiti backup`
-- rebuilds from their manifests when it is missing or behind.

CREATE TABLE backups (
    id            TEXT    PRIMARY KEY,
    file          TEXT    NOT NULL,
    kind          TEXT    NOT NULL CHECK (kind IN ('manual', 'scheduled', 'pre-restore')),
    scope         TEXT    NOT NULL,
    status        TEXT    NOT NULL CHECK (status IN ('in_progress', 'completed', 'failed', 'deleted')),
    error         TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    created_by    TEXT    NOT NULL,
    finished_at   TIMESTAMPTZ,
    size_bytes    BIGINT,
    total_rows    BIGINT,
    sha256        TEXT,
    encrypted     BOOLEAN NOT NULL DEFAULT FALSE,
    verified_at   TIMESTAMPTZ,
    verify_result TEXT,
    pinned        BOOLEAN NOT NULL DEFAULT FALSE,
    missing_since TIMESTAMPTZ
);
CREATE INDEX backups_created ON backups(created_at);
CREATE INDEX backups_file ON backups(file);

-- Who holds the backup lock (pg_try_advisory_lock), so a second caller can say who.
CREATE TABLE backup_lock (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    operation TEXT    NOT NULL,
    operator  TEXT    NOT NULL,
    pid       BIGINT  NOT NULL,
    host      TEXT    NOT NULL,
    since     TIMESTAMPTZ NOT NULL
);

-- A restore replaces rows in one transaction with the foreign keys checked at its end
-- (SET CONSTRAINTS ALL DEFERRED), as SQLite's defer_foreign_keys does. Every other
-- statement still checks them immediately.
ALTER TABLE workers     ALTER CONSTRAINT workers_org_id_fkey          DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE members     ALTER CONSTRAINT members_org_id_fkey          DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE members     ALTER CONSTRAINT members_worker_id_fkey       DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE collections ALTER CONSTRAINT collections_org_id_fkey      DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE collections ALTER CONSTRAINT collections_member_id_fkey   DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE collections ALTER CONSTRAINT collections_worker_id_fkey   DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE collections ALTER CONSTRAINT collections_reversal_of_fkey DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE day_closes  ALTER CONSTRAINT day_closes_org_id_fkey       DEFERRABLE INITIALLY IMMEDIATE;
ALTER TABLE users       ALTER CONSTRAINT users_org_id_fkey            DEFERRABLE INITIALLY IMMEDIATE;
