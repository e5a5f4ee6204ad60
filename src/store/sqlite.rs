//! SQLite through rusqlite (bundled): the embedded default, no server needed.
//!
//! Writers take the database lock at `BEGIN IMMEDIATE`, so a transaction that checks a limit and
//! then inserts cannot interleave with another writer; `busy_timeout` makes a busy database wait
//! up to the read timeout and then report "temporarily unavailable".

use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};

use super::{Backend, Packing, Row, StoreKind, Value};
use crate::config::Config;
use crate::error::{Error, Result};

/// The schema a new SQLite database gets.
pub(crate) const SCHEMA: &str = include_str!("../../sql/sqlite/schema.sql");
/// The audit table (`store::audit`).
pub(crate) const AUDIT_SCHEMA: &str = include_str!("../../sql/sqlite/audit.sql");

/// Bytes of the database file mapped into memory (only what is used is ever read).
const MMAP_SIZE: i64 = 1 << 30;
/// Page cache per connection: a negative `cache_size` is in KiB (here 64 MiB).
const CACHE_KIB: i64 = -(64 << 10);

pub(crate) struct SqliteBackend {
    conn: Connection,
}

impl SqliteBackend {
    /// Opens `path` (`/abs/file.db`, `//abs/file.db`, `relative.db` or `:memory:`).
    pub(crate) fn open(path: &str, config: &Config) -> Result<SqliteBackend> {
        let path = path.strip_prefix("//").unwrap_or(path);
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let conn = Connection::open_with_flags(path, flags)
            .map_err(|e| Error::temporary(format!("cannot open SQLite database {path}: {e}")))?;
        conn.busy_timeout(config.read_timeout).map_err(map_err)?;
        conn.pragma_update(None, "foreign_keys", "OFF")
            .map_err(map_err)?;
        // A lookup database is read far more than written: map it into memory (reads skip the
        // copy into SQLite's page cache) and keep more pages cached than the 2 MB default.
        conn.pragma_update(None, "mmap_size", MMAP_SIZE)
            .map_err(map_err)?;
        conn.pragma_update(None, "cache_size", CACHE_KIB)
            .map_err(map_err)?;
        Ok(SqliteBackend { conn })
    }
}

impl ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

fn value_of(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Text(f.to_string()),
        ValueRef::Text(t) | ValueRef::Blob(t) => {
            Value::Text(String::from_utf8_lossy(t).into_owned())
        }
    }
}

fn map_err(e: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode;
    match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::ConstraintViolation => Error::conflict(format!("already exists: {e}")),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                Error::temporary(format!("database busy: {e}"))
            }
            ErrorCode::CannotOpen | ErrorCode::SystemIoFailure | ErrorCode::DiskFull => {
                Error::temporary(format!("database unavailable: {e}"))
            }
            _ => Error::internal(format!("SQLite error: {e}")),
        },
        _ => Error::internal(format!("SQLite error: {e}")),
    }
}

impl Backend for SqliteBackend {
    fn kind(&self) -> StoreKind {
        StoreKind::Sqlite
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let columns = stmt.column_count();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params))
            .map_err(map_err)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(map_err)? {
            let values = (0..columns)
                .map(|i| row.get_ref(i).map(value_of))
                .collect::<rusqlite::Result<Row>>()
                .map_err(map_err)?;
            out.push(values);
        }
        Ok(out)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(map_err)?;
        let changed = stmt
            .execute(rusqlite::params_from_iter(params))
            .map_err(map_err)?;
        Ok(changed as u64)
    }

    fn execute_script(&mut self, sql: &str) -> Result<()> {
        self.conn.execute_batch(sql).map_err(map_err)
    }

    fn begin(&mut self) -> Result<()> {
        self.conn.execute_batch("BEGIN IMMEDIATE").map_err(map_err)
    }

    fn commit(&mut self) -> Result<()> {
        self.conn.execute_batch("COMMIT").map_err(map_err)
    }

    fn rollback(&mut self) {
        // Nothing to do when no transaction is open (BEGIN itself failed).
        if !self.conn.is_autocommit() {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }

    fn connection_ended(&self) -> bool {
        // A file has no connection the other side could end.
        false
    }

    fn lock_clause(&self) -> &'static str {
        ""
    }

    fn packing(&self) -> Packing {
        Packing::Pipes
    }

    fn lazy_coalesce(&self) -> bool {
        true
    }

    fn tables(&mut self) -> Result<Vec<String>> {
        let rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN \
             ('domain','forwarder','popbox','domain_alias','web_session','signin_failure')",
            &[],
        )?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| r.remove(0).text())
            .collect())
    }

    fn explain(&mut self, sql: &str, params: &[Value]) -> Result<Vec<String>> {
        let rows = self.query(&format!("EXPLAIN QUERY PLAN {sql}"), params)?;
        Ok(rows
            .into_iter()
            .filter_map(|mut r| r.pop().and_then(Value::text))
            // A SELECT of subqueries alone reads no table itself.
            .filter(|line| line != "SCAN CONSTANT ROW")
            .collect())
    }
}
