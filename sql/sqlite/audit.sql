-- vmailsql audit log for SQLite: one row per change, written in the change's own transaction.
-- Never holds a password or a password hash (a password change records only the new scheme).
CREATE TABLE IF NOT EXISTS audit_log (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    changed_at   INTEGER NOT NULL,
    actor        TEXT NOT NULL,
    origin       TEXT NOT NULL,
    domain_name  TEXT NOT NULL COLLATE NOCASE,
    object       TEXT NOT NULL,
    name         TEXT NOT NULL,
    action       TEXT NOT NULL,
    before_value TEXT,
    after_value  TEXT,
    outcome      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_by_domain ON audit_log (domain_name, changed_at);
CREATE INDEX IF NOT EXISTS audit_log_by_time ON audit_log (changed_at);
