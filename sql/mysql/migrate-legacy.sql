-- Migrate a vmail-sql legacy schema (16/32-character prefix keys) to the recommended schema.
-- MariaDB 10.1+ (compound statements outside stored programs). Run with the mariadb client:
--   mariadb virtualemail < sql/mysql/migrate-legacy.sql
-- `vmailctl migrate` does the same through the library, with a dry run.
--
-- 1. Report rows that would collide under the new keys (names lower-cased and compared as the
-- new utf8mb4_general_ci name columns compare them: case, and also 'bär' = 'bar'); 2. refuse
-- (change nothing) if any; 3. copy into new tables with full-length keys, names lower-cased;
-- 4. swap them in with one atomic RENAME TABLE, keeping the old tables as legacy_*. If any step
-- fails, the legacy tables are still in place and in use.

SELECT 'collision' AS problem, t.* FROM (
    SELECT 'domain' AS tbl, CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci AS name, COUNT(*) AS n FROM domain GROUP BY CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci HAVING COUNT(*) > 1
    UNION ALL
    SELECT 'popbox', CONCAT(CONVERT(LOWER(local_part) USING utf8mb4) COLLATE utf8mb4_general_ci, '@', CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci), COUNT(*) FROM popbox
        GROUP BY CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci, CONVERT(LOWER(local_part) USING utf8mb4) COLLATE utf8mb4_general_ci HAVING COUNT(*) > 1
    UNION ALL
    SELECT 'forwarder', CONCAT(CONVERT(LOWER(local_part) USING utf8mb4) COLLATE utf8mb4_general_ci, '@', CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci), COUNT(*) FROM forwarder
        GROUP BY CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci, CONVERT(LOWER(local_part) USING utf8mb4) COLLATE utf8mb4_general_ci HAVING COUNT(*) > 1
    UNION ALL
    SELECT 'domain_alias', CONVERT(LOWER(alias) USING utf8mb4) COLLATE utf8mb4_general_ci, COUNT(*) FROM domain_alias GROUP BY CONVERT(LOWER(alias) USING utf8mb4) COLLATE utf8mb4_general_ci HAVING COUNT(*) > 1
) t;

DELIMITER //
BEGIN NOT ATOMIC
    IF (SELECT COUNT(*) FROM (
            SELECT 1 FROM domain GROUP BY CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci HAVING COUNT(*) > 1
            UNION ALL SELECT 1 FROM popbox GROUP BY CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci, CONVERT(LOWER(local_part) USING utf8mb4) COLLATE utf8mb4_general_ci HAVING COUNT(*) > 1
            UNION ALL SELECT 1 FROM forwarder GROUP BY CONVERT(LOWER(domain_name) USING utf8mb4) COLLATE utf8mb4_general_ci, CONVERT(LOWER(local_part) USING utf8mb4) COLLATE utf8mb4_general_ci HAVING COUNT(*) > 1
            UNION ALL SELECT 1 FROM domain_alias GROUP BY CONVERT(LOWER(alias) USING utf8mb4) COLLATE utf8mb4_general_ci HAVING COUNT(*) > 1) c) > 0 THEN
        SIGNAL SQLSTATE '45000'
            SET MESSAGE_TEXT = 'vmailsql migration refused: rows collide under the new keys (listed above); fix them first';
    END IF;
END //
DELIMITER ;

DROP TABLE IF EXISTS vmailsql_new_domain;
CREATE TABLE vmailsql_new_domain (
    domain_name   VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    unix_user     VARCHAR(255),
    password_hash VARCHAR(255),
    path          VARCHAR(255),
    max_popbox    INT,
    PRIMARY KEY (domain_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

DROP TABLE IF EXISTS vmailsql_new_forwarder;
CREATE TABLE vmailsql_new_forwarder (
    domain_name VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    local_part  VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    remote_name VARCHAR(255) NOT NULL,
    PRIMARY KEY (domain_name, local_part)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

DROP TABLE IF EXISTS vmailsql_new_popbox;
CREATE TABLE vmailsql_new_popbox (
    domain_name   VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    local_part    VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    password_hash VARCHAR(255),
    mbox_name     VARCHAR(255),
    PRIMARY KEY (domain_name, local_part)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

DROP TABLE IF EXISTS vmailsql_new_domain_alias;
CREATE TABLE vmailsql_new_domain_alias (
    domain_name VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    alias       VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    PRIMARY KEY (alias),
    KEY domain_alias_by_domain (domain_name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

DROP TABLE IF EXISTS vmailsql_new_web_session;
CREATE TABLE vmailsql_new_web_session (
    domain_name VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL,
    session_id  CHAR(32),
    expires     INT,
    PRIMARY KEY (domain_name),
    KEY web_session_by_id (session_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS web_session (domain_name varchar(255) primary key, session_id char(32), expires int);

INSERT INTO vmailsql_new_domain SELECT LOWER(domain_name), unix_user, password_hash, path, max_popbox FROM domain;
INSERT INTO vmailsql_new_forwarder SELECT LOWER(domain_name), LOWER(local_part), remote_name FROM forwarder;
INSERT INTO vmailsql_new_popbox SELECT LOWER(domain_name), LOWER(local_part), password_hash, mbox_name FROM popbox;
INSERT INTO vmailsql_new_domain_alias SELECT LOWER(domain_name), LOWER(alias) FROM domain_alias;
INSERT INTO vmailsql_new_web_session SELECT LOWER(domain_name), session_id, expires FROM web_session;

RENAME TABLE domain TO legacy_domain, vmailsql_new_domain TO domain,
             forwarder TO legacy_forwarder, vmailsql_new_forwarder TO forwarder,
             popbox TO legacy_popbox, vmailsql_new_popbox TO popbox,
             domain_alias TO legacy_domain_alias, vmailsql_new_domain_alias TO domain_alias,
             web_session TO legacy_web_session, vmailsql_new_web_session TO web_session;
