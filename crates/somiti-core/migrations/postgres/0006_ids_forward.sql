-- PostgreSQL sequences already move forward on their own; a restore sets them to at least
-- the highest id the database had given (backup/replace.rs). The SQLite side of this
-- migration gives its tables AUTOINCREMENT. Both: a pre-restore backup records which
-- restore it undoes (JSON, or NULL).
ALTER TABLE backups ADD COLUMN undoes TEXT;
