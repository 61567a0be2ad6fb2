-- Scheduler, second part (PostgreSQL dialect; sqlite/0005_scheduler_jobs.sql is the same schema).
-- When each job first became known to this database: catch-up never runs a slot from before
-- it, so a new database has nothing to catch up. Jobs that already ran keep their history.
CREATE TABLE scheduler_jobs (
    job        TEXT PRIMARY KEY,
    first_seen TIMESTAMPTZ NOT NULL
);
INSERT INTO scheduler_jobs (job, first_seen)
    SELECT job, MIN(slot) FROM scheduler_runs GROUP BY job;

-- Whoever runs a job beats its row while it runs; a row whose beat stopped belongs to a
-- process that is gone, and the first scheduler or command to notice marks it failed.
ALTER TABLE scheduler_runs ADD COLUMN heartbeat_at TIMESTAMPTZ;
-- The operator a run acts for: `system` for scheduled runs, the login for manual ones.
ALTER TABLE scheduler_runs ADD COLUMN requested_by TEXT NOT NULL DEFAULT 'system';
