-- Ledger, access and audit schema (SQLite dialect; postgres/0001_ledger.sql is the same schema).
-- Money is INTEGER poisha. Business dates are TEXT 'YYYY-MM-DD'; instants are RFC 3339 UTC text.

CREATE TABLE organizations (
    id              INTEGER PRIMARY KEY,
    code            TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    address         TEXT    NOT NULL DEFAULT '',
    contact_person  TEXT    NOT NULL DEFAULT '',
    mobile          TEXT    NOT NULL DEFAULT '',
    email           TEXT    NOT NULL DEFAULT '',
    timezone        TEXT    NOT NULL DEFAULT 'Asia/Dhaka',
    -- comma-separated weekdays on which installments fall due (mon..sun)
    collection_days TEXT    NOT NULL DEFAULT 'sat,sun,mon,tue,wed,thu',
    created_at      TEXT    NOT NULL
);

CREATE TABLE workers (
    id        INTEGER PRIMARY KEY,
    org_id    INTEGER NOT NULL REFERENCES organizations(id),
    name      TEXT    NOT NULL,
    mobile    TEXT    NOT NULL DEFAULT '',
    active    BOOLEAN NOT NULL DEFAULT 1
);
CREATE INDEX workers_org ON workers(org_id);

CREATE TABLE members (
    id                INTEGER PRIMARY KEY,
    org_id            INTEGER NOT NULL REFERENCES organizations(id),
    member_no         TEXT    NOT NULL,
    name              TEXT    NOT NULL,
    nid               TEXT    NOT NULL UNIQUE,
    mobile            TEXT    NOT NULL,
    worker_id         INTEGER REFERENCES workers(id),
    loan_amount       INTEGER NOT NULL CHECK (loan_amount >= 0),
    daily_installment INTEGER NOT NULL CHECK (daily_installment >= 0),
    daily_savings     INTEGER NOT NULL CHECK (daily_savings >= 0),
    status            TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'closed')),
    joined_on         TEXT    NOT NULL,
    UNIQUE (org_id, member_no)
);
CREATE INDEX members_org_worker ON members(org_id, worker_id);

CREATE TABLE collections (
    id            INTEGER PRIMARY KEY,
    org_id        INTEGER NOT NULL REFERENCES organizations(id),
    member_id     INTEGER NOT NULL REFERENCES members(id),
    collected_on  TEXT    NOT NULL,
    loan_paisa    INTEGER NOT NULL CHECK (loan_paisa >= 0),
    savings_paisa INTEGER NOT NULL CHECK (savings_paisa >= 0),
    worker_id     INTEGER REFERENCES workers(id),
    note          TEXT    NOT NULL DEFAULT '',
    entered_by    TEXT    NOT NULL,
    entered_at    TEXT    NOT NULL,
    -- a reversal is a new row that cancels the row it points at (same amounts)
    reversal_of   INTEGER UNIQUE REFERENCES collections(id)
);
CREATE INDEX collections_org_date ON collections(org_id, collected_on);
CREATE INDEX collections_member_date ON collections(member_id, collected_on);

CREATE TABLE day_closes (
    org_id     INTEGER NOT NULL REFERENCES organizations(id),
    closed_on  TEXT    NOT NULL,
    closed_by  TEXT    NOT NULL,
    closed_at  TEXT    NOT NULL,
    PRIMARY KEY (org_id, closed_on)
);

CREATE TABLE users (
    id         INTEGER PRIMARY KEY,
    username   TEXT    NOT NULL UNIQUE,
    full_name  TEXT    NOT NULL DEFAULT '',
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'manager', 'worker', 'viewer')),
    org_id     INTEGER REFERENCES organizations(id),
    active     BOOLEAN NOT NULL DEFAULT 1,
    created_at TEXT    NOT NULL
);

CREATE TABLE audit_log (
    id      INTEGER PRIMARY KEY,
    at      TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    action  TEXT    NOT NULL,
    target  TEXT    NOT NULL DEFAULT '',
    detail  TEXT    NOT NULL DEFAULT '{}',
    outcome TEXT    NOT NULL
);
CREATE INDEX audit_log_at ON audit_log(at);

-- append only: the audit log is never updated or deleted
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
