//! MySQL and MariaDB through the pure-Rust `mysql` crate.
//!
//! One held connection per handle, no pool: the crate's pool resets a connection on every
//! return (an extra round trip per lookup). Statements are prepared once and cached by the
//! driver. `prefer_socket` is off and `max_allowed_packet` is preset so that connecting costs one
//! handshake and nothing more: every Exim process connects afresh.

use mysql::consts::CapabilityFlags;
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, OptsBuilder, Params};

use super::{Backend, Row, StoreKind, Value};
use crate::config::{redact_url, Config};
use crate::error::{Error, Result};

/// The recommended schema for new MySQL/MariaDB sites.
pub(crate) const SCHEMA: &str = include_str!("../../sql/mysql/schema.sql");
/// The audit table (`store::audit`), beside either schema.
pub(crate) const AUDIT_SCHEMA: &str = include_str!("../../sql/mysql/audit.sql");
/// The seed's schema, for sites that want it unchanged.
pub(crate) const LEGACY_SCHEMA: &str = concat!(
    include_str!("../../sql/legacy/init-db.sql"),
    include_str!("../../sql/legacy/init-session-db.sql")
);

pub(crate) struct MysqlBackend {
    conn: Conn,
}

impl MysqlBackend {
    pub(crate) fn connect(url: &str, config: &Config) -> Result<MysqlBackend> {
        let shown = redact_url(url);
        let opts = Opts::from_url(url)
            .map_err(|_| Error::invalid(format!("malformed MySQL URL {shown}")))?;
        let opts = OptsBuilder::from_opts(opts)
            .prefer_socket(false)
            // "Rows matched", not "rows changed", as SQLite counts: an UPDATE that writes the
            // value a row already has still found its row (not "no such forwarder").
            .additional_capabilities(CapabilityFlags::CLIENT_FOUND_ROWS)
            .max_allowed_packet(Some(16 << 20))
            .tcp_connect_timeout(Some(config.connect_timeout))
            .read_timeout(Some(config.read_timeout))
            .write_timeout(Some(config.read_timeout));
        let conn = Conn::new(opts).map_err(|e| {
            Error::temporary(format!("cannot connect to {shown}: {}", describe(&e)))
        })?;
        Ok(MysqlBackend { conn })
    }
}

fn to_mysql(v: &Value) -> mysql::Value {
    match v {
        Value::Null => mysql::Value::NULL,
        Value::Int(i) => mysql::Value::Int(*i),
        Value::Text(s) => mysql::Value::Bytes(s.as_bytes().to_vec()),
    }
}

fn from_mysql(v: mysql::Value) -> Value {
    match v {
        mysql::Value::NULL => Value::Null,
        mysql::Value::Int(i) => Value::Int(i),
        mysql::Value::UInt(u) => {
            i64::try_from(u).map_or_else(|_| Value::Text(u.to_string()), Value::Int)
        }
        mysql::Value::Bytes(b) => Value::Text(String::from_utf8_lossy(&b).into_owned()),
        other => Value::Text(other.as_sql(true)),
    }
}

fn params(values: &[Value]) -> Params {
    if values.is_empty() {
        Params::Empty
    } else {
        Params::Positional(values.iter().map(to_mysql).collect())
    }
}

/// The server's or driver's message, without anything from the URL and without the driver's
/// `DriverError { … }` wrapping.
fn describe(e: &mysql::Error) -> String {
    match e {
        mysql::Error::MySqlError(m) => format!("{} (error {})", m.message, m.code),
        mysql::Error::IoError(io) => io.to_string(),
        mysql::Error::DriverError(d) => d.to_string(),
        mysql::Error::CodecError(c) => c.to_string(),
        other => other.to_string(),
    }
}

fn map_err(e: mysql::Error) -> Error {
    match &e {
        mysql::Error::MySqlError(m) => match m.code {
            // ER_DUP_ENTRY, ER_DUP_UNIQUE
            1062 | 1169 => Error::conflict(format!("already exists: {}", m.message)),
            // lock wait timeout, deadlock, server shutting down, too many connections
            1205 | 1213 | 1053 | 1040 | 2006 | 2013 => {
                Error::temporary(format!("database busy: {}", describe(&e)))
            }
            _ => Error::internal(format!("MySQL error: {}", describe(&e))),
        },
        mysql::Error::IoError(_) | mysql::Error::DriverError(_) | mysql::Error::CodecError(_) => {
            Error::temporary(format!("database unavailable: {}", describe(&e)))
        }
        _ => Error::internal(format!("MySQL error: {}", describe(&e))),
    }
}

impl Backend for MysqlBackend {
    fn kind(&self) -> StoreKind {
        StoreKind::Mysql
    }

    fn query(&mut self, sql: &str, values: &[Value]) -> Result<Vec<Row>> {
        let rows: Vec<mysql::Row> = self.conn.exec(sql, params(values)).map_err(map_err)?;
        Ok(rows
            .into_iter()
            .map(|r| r.unwrap().into_iter().map(from_mysql).collect())
            .collect())
    }

    fn execute(&mut self, sql: &str, values: &[Value]) -> Result<u64> {
        self.conn.exec_drop(sql, params(values)).map_err(map_err)?;
        Ok(self.conn.affected_rows())
    }

    fn execute_script(&mut self, sql: &str) -> Result<()> {
        for statement in super::split_script(sql) {
            self.conn.query_drop(statement).map_err(map_err)?;
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<()> {
        self.conn.query_drop("START TRANSACTION").map_err(map_err)
    }

    fn commit(&mut self) -> Result<()> {
        self.conn.query_drop("COMMIT").map_err(map_err)
    }

    fn rollback(&mut self) {
        let _ = self.conn.query_drop("ROLLBACK");
    }

    fn lock_clause(&self) -> &'static str {
        " FOR UPDATE"
    }

    fn tables(&mut self) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name IN ('domain','forwarder','popbox','domain_alias','web_session')",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| r.remove(0).text())
            .collect())
    }

    fn explain(&mut self, sql: &str, values: &[Value]) -> Result<Vec<String>> {
        // EXPLAIN columns: id, select_type, table, type, possible_keys, key, key_len, ref, rows, Extra
        let rows = self.query(&format!("EXPLAIN {sql}"), values)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let col = |i: usize| r.get(i).cloned().and_then(Value::text).unwrap_or_default();
                format!(
                    "table={} type={} key={} extra={}",
                    col(2),
                    col(3),
                    col(5),
                    col(9)
                )
            })
            .collect())
    }
}
