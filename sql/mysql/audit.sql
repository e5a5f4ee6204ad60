-- vmailsql audit log for MySQL/MariaDB (beside the legacy and the recommended schema alike):
-- one row per change, written in the change's own transaction, so InnoDB whatever engine the
-- vmail tables use. Never holds a password or a password hash.
CREATE TABLE IF NOT EXISTS audit_log (
    id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    changed_at   BIGINT NOT NULL,
    actor        VARCHAR(255) NOT NULL,
    origin       VARCHAR(255) NOT NULL,
    domain_name  VARCHAR(255) NOT NULL,
    object       VARCHAR(32) NOT NULL,
    name         VARCHAR(255) NOT NULL,
    action       VARCHAR(32) NOT NULL,
    before_value TEXT,
    after_value  TEXT,
    outcome      VARCHAR(16) NOT NULL,
    KEY audit_log_by_domain (domain_name, changed_at),
    KEY audit_log_by_time (changed_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
