-- no-transaction
-- Entry numbers move forward: every table with an id gets AUTOINCREMENT, so SQLite never
-- hands out an id again that it gave before (sqlite_sequence keeps the highest, whatever a
-- restore deletes and loads). SQLite cannot change a column in place: each table is built
-- anew, copied and renamed, the documented way (foreign keys off, one transaction).
-- Also: a pre-restore backup records which restore it undoes (JSON, or NULL).
PRAGMA foreign_keys = OFF;
BEGIN;

CREATE TABLE organizations_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    code            TEXT    NOT NULL UNIQUE,
    name            TEXT    NOT NULL,
    address         TEXT    NOT NULL DEFAULT '',
    contact_person  TEXT    NOT NULL DEFAULT '',
    mobile          TEXT    NOT NULL DEFAULT '',
    email           TEXT    NOT NULL DEFAULT '',
    timezone        TEXT    NOT NULL DEFAULT 'Asia/Dhaka',
    collection_days TEXT    NOT NULL DEFAULT 'sat,sun,mon,tue,wed,thu',
    created_at      TEXT    NOT NULL
);
INSERT INTO organizations_new SELECT id, code, name, address, contact_person, mobile, email, timezone, collection_days, created_at FROM organizations;
DROP TABLE organizations;
ALTER TABLE organizations_new RENAME TO organizations;

CREATE TABLE workers_new (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id    INTEGER NOT NULL REFERENCES organizations(id),
    name      TEXT    NOT NULL,
    mobile    TEXT    NOT NULL DEFAULT '',
    active    BOOLEAN NOT NULL DEFAULT 1
);
INSERT INTO workers_new SELECT id, org_id, name, mobile, active FROM workers;
DROP TABLE workers;
ALTER TABLE workers_new RENAME TO workers;
CREATE INDEX workers_org ON workers(org_id);

CREATE TABLE members_new (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO members_new SELECT id, org_id, member_no, name, nid, mobile, worker_id, loan_amount, daily_installment, daily_savings, status, joined_on FROM members;
DROP TABLE members;
ALTER TABLE members_new RENAME TO members;
CREATE INDEX members_org_worker ON members(org_id, worker_id);

CREATE TABLE collections_new (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id        INTEGER NOT NULL REFERENCES organizations(id),
    member_id     INTEGER NOT NULL REFERENCES members(id),
    collected_on  TEXT    NOT NULL,
    loan_paisa    INTEGER NOT NULL CHECK (loan_paisa >= 0),
    savings_paisa INTEGER NOT NULL CHECK (savings_paisa >= 0),
    worker_id     INTEGER REFERENCES workers(id),
    note          TEXT    NOT NULL DEFAULT '',
    entered_by    TEXT    NOT NULL,
    entered_at    TEXT    NOT NULL,
    reversal_of   INTEGER UNIQUE REFERENCES collections(id)
);
INSERT INTO collections_new SELECT id, org_id, member_id, collected_on, loan_paisa, savings_paisa, worker_id, note, entered_by, entered_at, reversal_of FROM collections;
DROP TABLE collections;
ALTER TABLE collections_new RENAME TO collections;
CREATE INDEX collections_org_date ON collections(org_id, collected_on);
CREATE INDEX collections_member_sums ON collections(member_id, collected_on, reversal_of, loan_paisa, savings_paisa);

CREATE TABLE users_new (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    username   TEXT    NOT NULL UNIQUE,
    full_name  TEXT    NOT NULL DEFAULT '',
    role       TEXT    NOT NULL CHECK (role IN ('admin', 'manager', 'worker', 'viewer')),
    org_id     INTEGER REFERENCES organizations(id),
    active     BOOLEAN NOT NULL DEFAULT 1,
    created_at TEXT    NOT NULL
);
INSERT INTO users_new SELECT id, username, full_name, role, org_id, active, created_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

ALTER TABLE backups ADD COLUMN undoes TEXT;

COMMIT;
PRAGMA foreign_keys = ON;
