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

use std::time::{Duration, Instant};

use crate::config::{redact_url, Config};
use crate::domain_cache::DomainCache;
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

/// The most one call may wait for the database, failover and retries included:
/// `connect_timeout + read_timeout`. A held connection's statement waits at most `read_timeout`
/// and is not retried after a timeout; a connection opened during a call gets what remains.
pub(crate) fn call_budget(config: &Config) -> Duration {
    config.connect_timeout.saturating_add(config.read_timeout)
}

/// The connection of one handle, opened on first use and replaced after failures and forks.
pub(crate) struct Store {
    config: Config,
    conn: Option<Box<dyn Backend>>,
    /// The process that opened `conn`; another pid means we are a forked child.
    owner_pid: u32,
    /// Domain rows just read through this connection (emptied by every write).
    pub(crate) domains: DomainCache,
    /// When the current call must give up (see [`call_budget`]).
    deadline: Option<Instant>,
    /// `conn` was opened with timeouts cut to what was left of a call's budget: it is replaced
    /// after that call, so later calls get the full timeouts.
    trimmed: bool,
}

impl Store {
    pub(crate) fn new(config: Config) -> Store {
        Store {
            domains: DomainCache::new(config.domain_cache_max_age.unwrap_or_default()),
            config,
            conn: None,
            owner_pid: std::process::id(),
            deadline: None,
            trimmed: false,
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

    /// Tries each URL in turn within what is left of the call's budget: each attempt gets its
    /// configured timeouts, cut to the time that remains.
    fn connect_any(&mut self) -> Result<Box<dyn Backend>> {
        let mut last = Error::invalid("no database URL configured");
        for url in &self.config.databases {
            let left = self.time_left();
            if left.is_zero() {
                return Err(Error::temporary(format!(
                    "no database answered within {} s ({last})",
                    call_budget(&self.config).as_secs_f32()
                )));
            }
            let mut config = self.config.clone();
            config.connect_timeout = config.connect_timeout.min(left);
            config.read_timeout = config.read_timeout.min(left);
            let trimmed = config.connect_timeout < self.config.connect_timeout
                || config.read_timeout < self.config.read_timeout;
            match connect(url, &config) {
                Ok(conn) => {
                    self.trimmed = trimmed;
                    return Ok(conn);
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// What is left of the current call's budget (all of it outside a call).
    fn time_left(&self) -> Duration {
        self.deadline.map_or(call_budget(&self.config), |d| {
            d.saturating_duration_since(Instant::now())
        })
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
        self.domains.clear();
        result
    }

    /// Runs one call within its budget, then drops a connection opened with cut timeouts.
    fn call<T>(&mut self, body: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        self.deadline = Some(Instant::now() + call_budget(&self.config));
        let result = body(self);
        self.deadline = None;
        if self.trimmed {
            self.conn = None;
            self.trimmed = false;
        }
        result
    }

    /// After a temporary failure on a connection that was already open: true (and the
    /// connection dropped) when the server had ended it, so one more try on a fresh connection
    /// may succeed at once and within the budget. A timeout is never retried: the server may be
    /// hung, and a second wait would double the call's cost.
    fn retry_on_fresh(&mut self, had_conn: bool) -> bool {
        let ended = self.conn.as_ref().is_some_and(|c| c.connection_ended());
        self.conn = None;
        had_conn && ended && !self.time_left().is_zero()
    }

    /// Runs a read-only operation, retrying once on a fresh connection when the old one had
    /// been ended by the server (it restarted or closed an idle connection).
    pub(crate) fn read<T>(&mut self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.call(|store| {
            let had_conn = store.conn.is_some();
            match op(store.conn()?) {
                Err(e) if e.kind() == ErrorKind::Temporary => {
                    if !store.retry_on_fresh(had_conn) {
                        return Err(e);
                    }
                    let second = op(store.conn()?);
                    if second.is_err() {
                        store.conn = None;
                    }
                    second
                }
                other => other,
            }
        })
    }

    /// Runs `op` in one transaction: all of it commits, or none of it does. When the held
    /// connection turns out to have been ended by the server at `BEGIN` (nothing of the write
    /// was sent), the write goes to a fresh connection; once anything of it was sent, a failure
    /// is reported and never retried (its fate may be unknown). The one exception is a
    /// transaction the server chose as a deadlock victim: it was rolled back whole, so it runs
    /// once more (it then sees what the other transaction committed).
    pub(crate) fn write<T>(&mut self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.transact(true, op)
    }

    /// As [`Store::write`] for an `op` that runs exactly one statement: that is atomic on any
    /// engine, so it also runs on tables without transactions (MyISAM).
    pub(crate) fn write_one<T>(&mut self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.transact(false, op)
    }

    fn transact<T>(
        &mut self,
        needs_transactions: bool,
        op: impl Fn(&mut dyn Backend) -> Result<T>,
    ) -> Result<T> {
        // A write may change what the domain cache holds: it never outlives one.
        self.domains.clear();
        self.call(|store| {
            store.before_write(|db| {
                if needs_transactions {
                    refuse_without_transactions(db)?;
                }
                db.begin()
            })?;
            match store.transaction_body(&op) {
                Err(_) if store.conn.as_ref().is_some_and(|c| c.deadlocked()) => {
                    store.conn()?.begin()?;
                    store.transaction_body(&op)
                }
                other => other,
            }
        })
    }

    /// Runs what precedes a write (the engine check, BEGIN): nothing of the write itself is
    /// sent yet, so when the held connection turns out to have been ended by the server, it
    /// runs once more on a fresh connection.
    fn before_write(&mut self, step: impl Fn(&mut dyn Backend) -> Result<()>) -> Result<()> {
        let had_conn = self.conn.is_some();
        let first = step(self.conn()?);
        let result = match first {
            Err(e) if e.kind() == ErrorKind::Temporary && self.retry_on_fresh(had_conn) => {
                step(self.conn()?)
            }
            other => other,
        };
        if let Err(e) = &result {
            self.drop_if_temporary(e);
        }
        result
    }

    /// `op` and COMMIT inside a begun transaction; rolled back on failure.
    fn transaction_body<T>(&mut self, op: &impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        let conn = self.conn()?;
        let result = op(&mut *conn).and_then(|value| conn.commit().map(|()| value));
        if let Err(e) = &result {
            if e.kind() == ErrorKind::Temporary && !conn.deadlocked() {
                // The connection is given up without a ROLLBACK (on a hung server that would
                // wait once more): the server rolls back what it had begun when it goes.
                self.conn = None;
            } else {
                conn.rollback();
            }
        }
        result
    }

    fn drop_if_temporary(&mut self, e: &Error) {
        if e.kind() == ErrorKind::Temporary {
            self.conn = None;
        }
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
