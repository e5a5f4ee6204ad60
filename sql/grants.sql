-- Accounts for a vmailsql site (MySQL/MariaDB). Replace the passwords and host names.
-- Lookups (Exim, the POP3 checkpassword program) only read; with upgrade_on_login = yes the
-- POP3 side also needs UPDATE on popbox.password_hash.
CREATE USER IF NOT EXISTS 'vmail_lookup'@'localhost' IDENTIFIED BY 'change-me-lookup';
GRANT SELECT ON virtualemail.domain       TO 'vmail_lookup'@'localhost';
GRANT SELECT ON virtualemail.domain_alias TO 'vmail_lookup'@'localhost';
GRANT SELECT ON virtualemail.forwarder    TO 'vmail_lookup'@'localhost';
GRANT SELECT ON virtualemail.popbox       TO 'vmail_lookup'@'localhost';
-- Only if upgrade_on_login = yes:
-- GRANT UPDATE (password_hash) ON virtualemail.popbox TO 'vmail_lookup'@'localhost';
-- ... and, with the audit log, the record of each upgrade (a change fails without it):
-- GRANT SELECT, INSERT ON virtualemail.audit_log TO 'vmail_lookup'@'localhost';
-- With `replicas`, on every read server: reading the replication lag (SHOW SLAVE STATUS);
-- without it the replicas are skipped and lookups go to the primary (MySQL: REPLICATION CLIENT).
-- GRANT SLAVE MONITOR ON *.* TO 'vmail_lookup'@'localhost';

-- Administration (vmailctl, the Perl scripts, the control panel).
CREATE USER IF NOT EXISTS 'vmail_admin'@'localhost' IDENTIFIED BY 'change-me-admin';
GRANT SELECT, INSERT, UPDATE, DELETE ON virtualemail.* TO 'vmail_admin'@'localhost';
