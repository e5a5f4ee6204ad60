-- vmailsql recommended schema for MySQL/MariaDB (new sites).
-- Same tables and columns as vmail-sql's init-db.sql and init-session-db.sql, so every legacy
-- tool keeps working, with these differences:
--   * full-length unique keys instead of the 16/32-character prefix keys (which made
--     'averyveryverylongdomain1.example' and '...2.example' collide);
--   * utf8mb4; the name columns (domain names, local parts, aliases) are case-insensitive
--     (utf8mb4_general_ci), as SQLite's NOCASE, so a 'Bob@Example.ORG' row another tool wrote
--     is found as bob@example.org and cannot sit beside 'bob'. vmailsql stores names
--     lower-cased and itself checks the names of the rows a lookup returns (ASCII letters
--     case-insensitively, nothing else): that the collation also equates 'ä' with 'a' only
--     makes the keys stricter. Everything else (passwords, paths, tokens) compares bytes;
--   * indexes for every lookup: aliases by target domain, sessions by token hash.
-- InnoDB with DYNAMIC rows (the default since MariaDB 10.2 / MySQL 5.7) allows 3072-byte keys.

CREATE TABLE domain (
    domain_name   VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    unix_user     VARCHAR(255),
    password_hash VARCHAR(255),
    path          VARCHAR(255),
    max_popbox    INT,
    PRIMARY KEY (domain_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE forwarder (
    domain_name VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    local_part  VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    remote_name VARCHAR(255) NOT NULL,
    PRIMARY KEY (domain_name, local_part)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE popbox (
    domain_name   VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    local_part    VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    password_hash VARCHAR(255),
    mbox_name     VARCHAR(255),
    PRIMARY KEY (domain_name, local_part)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE domain_alias (
    domain_name VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    alias       VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    PRIMARY KEY (alias),
    KEY domain_alias_by_domain (domain_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE web_session (
    domain_name VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    session_id  CHAR(32),
    expires     INT,
    PRIMARY KEY (domain_name),
    KEY web_session_by_id (session_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Failed control-panel sign-ins per subject ("domain:<name>", "client:<address>"), counted in
-- fixed windows that begin at window_start (Unix seconds). IF NOT EXISTS: the migration from the
-- legacy schema runs this script beside the existing tables, and keeps this one as it is (its
-- counts are short-lived; nothing needs copying).
CREATE TABLE IF NOT EXISTS signin_failure (
    subject      VARCHAR(255) NOT NULL,
    failures     INT NOT NULL,
    window_start BIGINT NOT NULL,
    PRIMARY KEY (subject)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
