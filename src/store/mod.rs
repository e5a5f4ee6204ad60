//! Storage: one [`Backend`] trait, two implementations (MySQL/MariaDB and SQLite), and the
//! connection handling both share.
//!
//! A backend is a thin driver adapter: it runs parameterised SQL and maps driver errors onto
//! [`ErrorKind`]s. All vmail SQL is written once in [`sql`], with `?` placeholders that both
//! drivers accept; the few dialect differences (row locks, schema text) are asked of the backend.
//! [`Store`] owns the connection: it connects lazily, reconnects after a failure, and after a
//! `fork()` abandons the parent's connection without closing it (closing would send a QUIT on a
//! socket the parent still uses) and opens its own.

pub(crate) mod audit;
mod mysql;
pub(crate) mod sql;
mod sqlite;

use crate::config::{redact_url, Config};
use crate::error::{Error, ErrorKind, Result};

/// Which database a handle talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// MySQL or MariaDB.
    Mysql,
    /// SQLite (the embedded default).
    Sqlite,
}

/// Which schema to create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// The seed's schema exactly, with its 16/32-character prefix keys (MySQL only).
    Legacy,
    /// Same tables and columns with full-length keys and lookup indexes.
    Recommended,
}

/// One SQL value as the vmail tables use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
}

impl Value {
    pub(crate) fn text(self) -> Option<String> {
        match self {
            Value::Null => None,
            Value::Int(i) => Some(i.to_string()),
            Value::Text(s) => Some(s),
        }
    }

    pub(crate) fn int(self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(i),
            Value::Text(s) => s.trim().parse().ok(),
            Value::Null => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_string())
    }
}

impl From<Option<&str>> for Value {
    fn from(s: Option<&str>) -> Value {
        s.map_or(Value::Null, Value::from)
    }
}

impl From<Option<i64>> for Value {
    fn from(i: Option<i64>) -> Value {
        i.map_or(Value::Null, Value::Int)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Value {
        Value::Int(i)
    }
}

pub(crate) type Row = Vec<Value>;

/// A database connection that runs the vmail SQL.
pub(crate) trait Backend: Send {
    fn kind(&self) -> StoreKind;
    /// Runs a query and returns all rows.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>>;
    /// Runs a statement and returns the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64>;
    /// Runs several `;`-separated statements without parameters (schema scripts).
    fn execute_script(&mut self, sql: &str) -> Result<()>;
    /// Starts a transaction that will write (SQLite takes its write lock now).
    fn begin(&mut self) -> Result<()>;
    fn commit(&mut self) -> Result<()>;
    fn rollback(&mut self);
    /// Appended to a SELECT inside a transaction to lock the rows it reads.
    fn lock_clause(&self) -> &'static str;
    /// Names of the vmail tables that exist.
    fn tables(&mut self) -> Result<Vec<String>>;
    /// The query plan of `sql`, one line per table access, for index-use tests.
    fn explain(&mut self, sql: &str, params: &[Value]) -> Result<Vec<String>>;
}

/// Which backend a URL names.
///
/// # Errors
/// `InvalidInput` for any other scheme (the message shows the URL without its password).
fn kind_of_url(url: &str) -> Result<StoreKind> {
    if url.starts_with("mysql://") {
        Ok(StoreKind::Mysql)
    } else if url.starts_with("sqlite:") {
        Ok(StoreKind::Sqlite)
    } else {
        Err(Error::invalid(format!(
            "unsupported database URL {:?}: use mysql://... or sqlite:...",
            redact_url(url)
        )))
    }
}

/// Opens a backend for one URL.
fn connect(url: &str, config: &Config) -> Result<Box<dyn Backend>> {
    match kind_of_url(url)? {
        StoreKind::Mysql => Ok(Box::new(mysql::MysqlBackend::connect(url, config)?)),
        StoreKind::Sqlite => {
            let path = url.strip_prefix("sqlite:").unwrap_or(url);
            Ok(Box::new(sqlite::SqliteBackend::open(path, config)?))
        }
    }
}

/// Checks that every URL names a supported backend, without connecting.
pub(crate) fn check_urls(config: &Config) -> Result<()> {
    if config.databases.is_empty() {
        return Err(Error::invalid("no database URL configured"));
    }
    config
        .databases
        .iter()
        .try_for_each(|url| kind_of_url(url).map(drop))
}

/// The connection of one handle, opened on first use and replaced after failures and forks.
pub(crate) struct Store {
    config: Config,
    conn: Option<Box<dyn Backend>>,
    /// The process that opened `conn`; another pid means we are a forked child.
    owner_pid: u32,
}

impl Store {
    pub(crate) fn new(config: Config) -> Store {
        Store {
            config,
            conn: None,
            owner_pid: std::process::id(),
        }
    }

    /// The live connection, (re)connecting as needed.
    pub(crate) fn conn(&mut self) -> Result<&mut dyn Backend> {
        if self.abandon_if_forked() {
            self.owner_pid = std::process::id();
        }
        if self.conn.is_none() {
            self.conn = Some(self.connect_any()?);
        }
        Ok(self.conn.as_deref_mut().expect("connection was just set"))
    }

    /// In a forked child the connection's socket is shared with the parent: forget it (no QUIT,
    /// no close handshake; the descriptor stays open until this child exits). True if forked.
    fn abandon_if_forked(&mut self) -> bool {
        if std::process::id() == self.owner_pid {
            return false;
        }
        if let Some(inherited) = self.conn.take() {
            std::mem::forget(inherited);
        }
        true
    }

    fn connect_any(&self) -> Result<Box<dyn Backend>> {
        let mut last = Error::invalid("no database URL configured");
        for url in &self.config.databases {
            match connect(url, &self.config) {
                Ok(conn) => return Ok(conn),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Runs a read-only operation, retrying once on a fresh connection when the old one failed
    /// (the server restarted or closed an idle connection).
    pub(crate) fn read<T>(&mut self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        let had_conn = self.conn.is_some();
        match op(self.conn()?) {
            Err(e) if e.kind() == ErrorKind::Temporary => {
                self.conn = None;
                if had_conn {
                    let second = op(self.conn()?);
                    if second.is_err() {
                        self.conn = None;
                    }
                    second
                } else {
                    Err(e)
                }
            }
            other => other,
        }
    }

    /// Runs schema statements once on the live connection: no transaction (MySQL commits DDL
    /// implicitly anyway) and no retry (a statement whose fate is unknown is not run twice).
    pub(crate) fn ddl<T>(&mut self, op: impl FnOnce(&mut dyn Backend) -> Result<T>) -> Result<T> {
        let result = op(self.conn()?);
        if result
            .as_ref()
            .is_err_and(|e| e.kind() == ErrorKind::Temporary)
        {
            self.conn = None;
        }
        result
    }

    /// Runs `op` in one transaction: all of it commits, or none of it does.
    pub(crate) fn write<T>(&mut self, op: impl FnOnce(&mut dyn Backend) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        let result = conn.begin().and_then(|()| {
            let value = op(&mut *conn)?;
            conn.commit()?;
            Ok(value)
        });
        if let Err(e) = &result {
            conn.rollback();
            if e.kind() == ErrorKind::Temporary {
                self.conn = None;
            }
        }
        result
    }

    /// The live connection's kind; before the first connection, the first URL's (a failover
    /// list may mix backends, so only the connection knows for sure).
    pub(crate) fn kind(&self) -> StoreKind {
        match &self.conn {
            Some(conn) => conn.kind(),
            None => self
                .config
                .databases
                .first()
                .and_then(|url| kind_of_url(url).ok())
                .unwrap_or(StoreKind::Sqlite),
        }
    }
}

impl Drop for Store {
    /// A forked child that frees an inherited handle must not close the parent's connection
    /// (a MySQL `COM_QUIT` on the shared socket would end the parent's session): forget it.
    fn drop(&mut self) {
        self.abandon_if_forked();
    }
}

/// The schema script for a backend.
pub(crate) fn schema_text(store: StoreKind, schema: SchemaKind) -> Result<&'static str> {
    match (store, schema) {
        (StoreKind::Mysql, SchemaKind::Recommended) => Ok(mysql::SCHEMA),
        (StoreKind::Mysql, SchemaKind::Legacy) => Ok(mysql::LEGACY_SCHEMA),
        (StoreKind::Sqlite, SchemaKind::Recommended) => Ok(sqlite::SCHEMA),
        (StoreKind::Sqlite, SchemaKind::Legacy) => Err(Error::invalid(
            "the legacy schema is MySQL syntax; SQLite gets the recommended schema",
        )),
    }
}

/// Splits a schema script into statements, dropping `#` and `--` comments (the seed's schema
/// uses `#`; ours use `--`). Schema scripts hold no string literals with these characters.
pub(crate) fn split_script(script: &str) -> Vec<String> {
    let text: Vec<&str> = script
        .lines()
        .map(|line| {
            let cut = [line.find("--"), line.find('#')]
                .into_iter()
                .flatten()
                .min();
            cut.map_or(line, |at| &line[..at])
        })
        .collect();
    text.join("\n")
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}
