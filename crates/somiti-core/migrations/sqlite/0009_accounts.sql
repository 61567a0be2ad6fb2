-- Loans and savings as accounts (PostgreSQL dialect: postgres/0009_accounts.sql).
--
-- A member's loan was a field (members.loan_amount, daily_installment); it becomes a loan
-- account with a disbursement, a status and payments that belong to it. Savings get
-- withdrawals. Each account keeps its running balance, updated in the same transaction as
-- every entry and reversal and checked against the entries by `verify` and `ledger check`.
-- Money is INTEGER poisha; dates are TEXT 'YYYY-MM-DD'; instants RFC 3339 UTC text.

-- A loan account. The row is the disbursement entry (who, when, how much); `status`,
-- `closed_on`, `written_off` and `close_reason` say how it ended; `paid` and `last_paid_on`
-- are its running balance (effective payments: reversals subtracted).
CREATE TABLE loans (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id         INTEGER NOT NULL REFERENCES organizations(id),
    member_id      INTEGER NOT NULL REFERENCES members(id),
    -- 1 for a member's first loan, 2 for the next one, ...
    cycle          INTEGER NOT NULL CHECK (cycle >= 1),
    disbursed_on   TEXT    NOT NULL,
    principal      INTEGER NOT NULL CHECK (principal > 0),
    -- flat service charge, owed with the principal (0 allowed)
    service_charge INTEGER NOT NULL DEFAULT 0 CHECK (service_charge >= 0),
    -- the first collection day an installment falls due (a loan made today is first due on
    -- a later collection day; a migrated loan, as before, from the day the member joined)
    first_due_on   TEXT    NOT NULL,
    -- due on each collection day from first_due_on until the loan is fully due
    installment    INTEGER NOT NULL CHECK (installment >= 0),
    -- the number of installments agreed (informational; NULL when not agreed)
    installments   INTEGER CHECK (installments > 0),
    status         TEXT    NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'repaid', 'written_off')),
    closed_on      TEXT,
    -- what was still owed when an admin wrote the loan off
    written_off    INTEGER NOT NULL DEFAULT 0 CHECK (written_off >= 0),
    close_reason   TEXT    NOT NULL DEFAULT '',
    entered_by     TEXT    NOT NULL,
    entered_at     TEXT    NOT NULL,
    paid           INTEGER NOT NULL DEFAULT 0,
    last_paid_on   TEXT,
    UNIQUE (member_id, cycle),
    CHECK ((status = 'active') = (closed_on IS NULL))
);
-- At most one active loan per member.
CREATE UNIQUE INDEX loans_one_active ON loans(member_id) WHERE status = 'active';
CREATE INDEX loans_org ON loans(org_id, disbursed_on);

-- A savings withdrawal: an entry like a collection, corrected by a reversal row.
CREATE TABLE withdrawals (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id       INTEGER NOT NULL REFERENCES organizations(id),
    member_id    INTEGER NOT NULL REFERENCES members(id),
    withdrawn_on TEXT    NOT NULL,
    amount       INTEGER NOT NULL CHECK (amount > 0),
    reason       TEXT    NOT NULL DEFAULT '',
    entered_by   TEXT    NOT NULL,
    entered_at   TEXT    NOT NULL,
    reversal_of  INTEGER UNIQUE REFERENCES withdrawals(id)
);
CREATE INDEX withdrawals_org_date ON withdrawals(org_id, withdrawn_on);
CREATE INDEX withdrawals_member_date ON withdrawals(member_id, withdrawn_on);

-- A member's savings account: the running balance (effective deposits and withdrawals) and
-- the last day the member paid anything.
CREATE TABLE savings_accounts (
    member_id    INTEGER PRIMARY KEY REFERENCES members(id),
    org_id       INTEGER NOT NULL REFERENCES organizations(id),
    deposited    INTEGER NOT NULL DEFAULT 0,
    withdrawn    INTEGER NOT NULL DEFAULT 0,
    last_paid_on TEXT
);
CREATE INDEX savings_accounts_org ON savings_accounts(org_id);

-- A loan payment belongs to a loan (NULL when the entry pays no loan).
ALTER TABLE collections ADD COLUMN loan_id INTEGER REFERENCES loans(id);
-- A member closed by the close procedure (loan repaid or written off, savings paid out):
-- an entry of its own, as the ledger's other events are.
CREATE TABLE member_closures (
    member_id  INTEGER PRIMARY KEY REFERENCES members(id),
    org_id     INTEGER NOT NULL REFERENCES organizations(id),
    closed_on  TEXT    NOT NULL,
    reason     TEXT    NOT NULL DEFAULT '',
    closed_by  TEXT    NOT NULL,
    closed_at  TEXT    NOT NULL
);

-- Existing data: each member's loan becomes a first loan disbursed on joining.
INSERT INTO loans (org_id, member_id, cycle, disbursed_on, principal, service_charge,
                   first_due_on, installment, status, entered_by, entered_at)
SELECT org_id, id, 1, joined_on, loan_amount, 0, joined_on, daily_installment, 'active',
       'migration 0009', strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
FROM members WHERE loan_amount > 0 ORDER BY id;
UPDATE collections SET loan_id = (SELECT l.id FROM loans l WHERE l.member_id = collections.member_id)
WHERE loan_paisa > 0;
-- Sums by grouping, never a subquery per row: this runs over millions of collections.
CREATE TEMP TABLE effective_0009 AS
SELECT c.member_id, c.loan_id, c.collected_on, c.loan_paisa, c.savings_paisa,
       (c.reversal_of IS NULL AND r.id IS NULL) AS standing,
       CASE WHEN c.reversal_of IS NULL THEN 1 ELSE -1 END AS sign
FROM collections c LEFT JOIN collections r ON r.reversal_of = c.id;
UPDATE loans SET paid = s.paid, last_paid_on = s.last_paid_on
FROM (SELECT loan_id, SUM(sign * loan_paisa) AS paid,
             MAX(CASE WHEN standing THEN collected_on END) AS last_paid_on
      FROM effective_0009 WHERE loan_id IS NOT NULL GROUP BY loan_id) AS s
WHERE s.loan_id = loans.id;
UPDATE loans SET status = 'repaid', closed_on = COALESCE(last_paid_on, disbursed_on)
WHERE paid >= principal + service_charge;
INSERT INTO savings_accounts (member_id, org_id, deposited, withdrawn, last_paid_on)
SELECT m.id, m.org_id, COALESCE(s.deposited, 0), 0, s.last_paid_on
FROM members m LEFT JOIN
     (SELECT member_id, SUM(sign * savings_paisa) AS deposited,
             MAX(CASE WHEN standing THEN collected_on END) AS last_paid_on
      FROM effective_0009 GROUP BY member_id) AS s ON s.member_id = m.id
ORDER BY m.id;
DROP TABLE effective_0009;

-- Money is no longer a field of the member.
ALTER TABLE members DROP COLUMN loan_amount;
ALTER TABLE members DROP COLUMN daily_installment;

-- The review reads the running balances: the cache of sums through the closed day
-- (migration 0004) has nothing left to do.
DROP TABLE close_balances;
DROP TABLE close_balance_marks;
