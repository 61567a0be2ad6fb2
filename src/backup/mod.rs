//! Backups: archive format v1, create, catalogue, verify, restore, download, delete, pin,
//! prune, and the lock that keeps them one at a time.
