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
mod connection;
mod mysql;
pub(crate) mod servers;
pub(crate) mod sql;
mod sqlite;

use std::time::Duration;

pub(crate) use connection::Store;
use servers::ReplicaState;
pub use servers::ReplicaStatus;

use crate::config::{redact_url, Config};
use crate::error::{Error, Result};

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
    /// True when the last failure showed that the server had ended the connection (closed,
    /// reset, killed): whatever was asked never ran, and a fresh connection may work at once.
    fn connection_ended(&self) -> bool;
    /// `(table, engine, transactional)` of each vmail table whose engine the database reports
    /// (MySQL; SQLite tables are always transactional and report none).
    fn table_engines(&mut self) -> Result<Vec<(String, String, bool)>> {
        Ok(Vec::new())
    }
    /// The vmail tables without transactions (MyISAM, Aria, ...), as `table (ENGINE)`; cached
    /// per connection until a schema script runs.
    fn non_transactional(&mut self) -> Result<Vec<String>> {
        Ok(Vec::new())
    }
    /// True when the last failure was the server picking this transaction as a deadlock victim
    /// (it rolled back all of it).
    fn deadlocked(&self) -> bool {
        false
    }
    /// Appended to a SELECT inside a transaction to lock the rows it reads.
    fn lock_clause(&self) -> &'static str;
    /// How this engine's SQL joins strings (the resolution probes return one packed string).
    fn packing(&self) -> Packing;
    /// Whether `COALESCE` stops at its first argument that is not NULL without evaluating the
    /// rest. SQLite's does; MariaDB evaluates every scalar subquery of a statement whose tables
    /// are all read by key before it runs (measured: `Handler_read_key` is the same whichever
    /// argument answers), so there the resolution probes come back one column each.
    fn lazy_coalesce(&self) -> bool;
    /// Whether this server replicates from another, and how far behind it is.
    fn replica_state(&mut self) -> Result<ReplicaState> {
        Ok(ReplicaState::NotReplica)
    }
    /// Names of the vmail tables that exist.
    fn tables(&mut self) -> Result<Vec<String>>;
    /// The query plan of `sql`, one line per table access, for index-use tests.
    fn explain(&mut self, sql: &str, params: &[Value]) -> Result<Vec<String>>;
}

/// The one dialect difference of the resolution queries: how a probed row's name and value are
/// joined into one string (see `sql::pack`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Packing {
    /// MariaDB: `CONCAT`, `CHAR_LENGTH`, and `CONVERT` to one character set, because a site's
    /// columns may differ in character set and `CONCAT` refuses to mix them.
    Concat,
    /// SQLite: `||` and `length()` (characters, for text).
    Pipes,
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
        .try_for_each(|url| kind_of_url(url).map(drop))?;
    let not_mysql = |url: &&String| !url.starts_with("mysql://");
    if let Some(url) = config.replicas.iter().find(not_mysql) {
        return Err(Error::invalid(format!(
            "replicas must be mysql://... URLs (MariaDB or MySQL read servers), not {:?}",
            redact_url(url)
        )));
    }
    match config.databases.iter().find(not_mysql) {
        Some(url) if !config.replicas.is_empty() => Err(Error::invalid(format!(
            "replicas replicate a MySQL/MariaDB primary; database {:?} is not one",
            redact_url(url)
        ))),
        _ => Ok(()),
    }
}

/// Asks every read server of `config` for its replication state, each on a connection of its
/// own (no handle's connection or lock is involved).
pub(crate) fn check_replicas(config: &Config) -> Vec<ReplicaStatus> {
    config
        .replicas
        .iter()
        .map(|url| {
            let state = connect(url, config).and_then(|mut db| db.replica_state());
            ReplicaStatus::of(url, state, config.max_replica_lag)
        })
        .collect()
}

/// The most one call may wait for the database, failover and retries included:
/// `connect_timeout + read_timeout`. A held connection's statement waits at most `read_timeout`
/// and is not retried after a timeout; a connection opened during a call gets what remains.
pub(crate) fn call_budget(config: &Config) -> Duration {
    config.connect_timeout.saturating_add(config.read_timeout)
}

/// On tables without transactions, `FOR UPDATE` locks nothing and a failure half-way keeps what
/// was done: a change of several statements would silently lose its guarantees (limits,
/// all-or-nothing deletes), so it is refused, naming the tables and the fix.
fn refuse_without_transactions(db: &mut dyn Backend) -> Result<()> {
    let tables = db.non_transactional()?;
    if tables.is_empty() {
        return Ok(());
    }
    Err(Error::internal(format!(
        "table(s) {} have no transactions, so vmailsql makes no changes that need them there \
         (lookups and logins keep working). Convert them to InnoDB: `vmailctl migrate --innodb` \
         keeps the legacy schema, `vmailctl migrate` moves to the recommended one",
        tables.join(", ")
    )))
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
