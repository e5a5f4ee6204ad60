-- vmailsql schema for SQLite: the vmail-sql tables with full-length keys.
-- COLLATE NOCASE (ASCII case folding) matches what MySQL's default collation did for the legacy
-- site; the library also lower-cases every name it writes or looks up, so it never relies on it.
CREATE TABLE IF NOT EXISTS domain (
    domain_name   TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
    unix_user     TEXT,
    password_hash TEXT,
    path          TEXT,
    max_popbox    INTEGER
);
CREATE TABLE IF NOT EXISTS forwarder (
    domain_name TEXT NOT NULL COLLATE NOCASE,
    local_part  TEXT NOT NULL COLLATE NOCASE,
    remote_name TEXT NOT NULL,
    PRIMARY KEY (domain_name, local_part)
);
CREATE TABLE IF NOT EXISTS popbox (
    domain_name   TEXT NOT NULL COLLATE NOCASE,
    local_part    TEXT NOT NULL COLLATE NOCASE,
    password_hash TEXT,
    mbox_name     TEXT,
    PRIMARY KEY (domain_name, local_part)
);
CREATE TABLE IF NOT EXISTS domain_alias (
    domain_name TEXT NOT NULL COLLATE NOCASE,
    alias       TEXT NOT NULL COLLATE NOCASE PRIMARY KEY
);
CREATE INDEX IF NOT EXISTS domain_alias_by_domain ON domain_alias (domain_name);
CREATE TABLE IF NOT EXISTS web_session (
    domain_name TEXT NOT NULL COLLATE NOCASE PRIMARY KEY,
    session_id  TEXT,
    expires     INTEGER
);
CREATE INDEX IF NOT EXISTS web_session_by_id ON web_session (session_id);
-- Failed control-panel sign-ins per subject ("domain:<name>", "client:<address>"), counted in
-- fixed windows that begin at window_start (Unix seconds).
CREATE TABLE IF NOT EXISTS signin_failure (
    subject      TEXT NOT NULL PRIMARY KEY,
    failures     INTEGER NOT NULL,
    window_start INTEGER NOT NULL
);
