-- What each member had paid (effective: reversals subtracted) through the organization's
-- latest closed day. A cache of sums over `collections`, sound because nothing on or before
-- a closed day can change; `close_balance_marks` says which closed day it was built for,
-- and close, reopen and restore drop the mark so the next review rebuilds it. Never in an
-- archive. (PostgreSQL dialect: postgres/0004_close_balances.sql.)
CREATE TABLE close_balances (
    org_id       INTEGER NOT NULL,
    member_id    INTEGER NOT NULL,
    loan_paid    INTEGER NOT NULL,
    savings_paid INTEGER NOT NULL,
    PRIMARY KEY (org_id, member_id)
);

CREATE TABLE close_balance_marks (
    org_id    INTEGER PRIMARY KEY,
    closed_on TEXT    NOT NULL,
    built_at  TEXT    NOT NULL
);

-- Per-member sums read the index alone.
CREATE INDEX collections_member_sums ON collections(member_id, collected_on, reversal_of, loan_paisa, savings_paisa);
DROP INDEX collections_member_date;
