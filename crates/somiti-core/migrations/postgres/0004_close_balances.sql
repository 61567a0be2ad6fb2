-- What each member had paid (effective: reversals subtracted) through the organization's
-- latest closed day. A cache of sums over `collections`, sound because nothing on or before
-- a closed day can change; `close_balance_marks` says which closed day it was built for,
-- and close, reopen and restore drop the mark so the next review rebuilds it. Never in an
-- archive. (SQLite dialect: sqlite/0004_close_balances.sql.)
CREATE TABLE close_balances (
    org_id       BIGINT NOT NULL,
    member_id    BIGINT NOT NULL,
    loan_paid    BIGINT NOT NULL,
    savings_paid BIGINT NOT NULL,
    PRIMARY KEY (org_id, member_id)
);

CREATE TABLE close_balance_marks (
    org_id    BIGINT PRIMARY KEY,
    closed_on DATE   NOT NULL,
    built_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX collections_member_sums ON collections(member_id, collected_on, reversal_of, loan_paisa, savings_paisa);
DROP INDEX collections_member_date;
