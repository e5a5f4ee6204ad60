//! The handle: configuration plus one database connection, shared safely between threads.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use crate::config::Config;
use crate::error::Result;
use crate::store::{self, Backend, Store, StoreKind};

/// A vmailsql handle: resolve, authenticate and administer through one database.
///
/// Cheap to open (it connects on first use). Calls from several threads are serialised on the
/// handle's one connection. After `fork()` the child's first call opens its own connection and
/// never touches the parent's.
pub struct Vmail {
    config: Config,
    store: Mutex<Store>,
    pub(crate) audit: crate::audit::State,
}

impl std::fmt::Debug for Vmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vmail")
            .field("kind", &self.store_kind())
            .finish()
    }
}

impl Vmail {
    /// Opens a handle with `config`. Does not connect yet.
    ///
    /// # Errors
    /// `InvalidInput` when no database URL is configured or one has an unknown scheme.
    pub fn open(config: Config) -> Result<Vmail> {
        store::check_urls(&config)?;
        Ok(Vmail {
            store: Mutex::new(Store::new(config.clone())),
            audit: crate::audit::State::default(),
            config,
        })
    }

    /// Opens a handle on one database URL with default settings.
    ///
    /// # Errors
    /// As [`Vmail::open`].
    pub fn open_url(url: &str) -> Result<Vmail> {
        Vmail::open(Config::with_database(url))
    }

    /// Opens a handle from a configuration file (`None`: `$VMAILSQL_CONFIG`, else
    /// `/etc/vmailsql.conf`).
    ///
    /// # Errors
    /// As [`Config::load`] and [`Vmail::open`].
    pub fn open_config(path: Option<&Path>) -> Result<Vmail> {
        Vmail::open(Config::load(path)?)
    }

    /// The settings this handle uses.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Which kind of database this handle talks to.
    pub fn store_kind(&self) -> StoreKind {
        self.lock().kind()
    }

    /// The database's query plans for the resolution queries (a domain not yet known, then a
    /// domain whose row the handle has just read), one line per table access
    /// (`table=… type=… key=…` on MySQL, SQLite's `EXPLAIN QUERY PLAN` lines otherwise). Lets
    /// tests and `vmailctl check` prove that every lookup uses an index.
    ///
    /// # Errors
    /// `Temporary` when the database cannot be reached.
    pub fn explain_resolve(&self, address: &str) -> Result<Vec<String>> {
        let (local, domain) = crate::address::split_address(address)?;
        self.read(|db| store::sql::explain_route(db, &domain, &local))
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Store> {
        // A panic while holding the lock leaves the connection in an unknown state, but the
        // store recovers from any connection state on the next call, so poisoning is ignored.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn read<T>(&self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.lock().read(op)
    }

    pub(crate) fn write<T>(&self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.lock().write(op)
    }

    /// Runs schema statements (DDL): once, never retried, outside a transaction.
    pub(crate) fn ddl<T>(&self, op: impl FnOnce(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.lock().ddl(op)
    }

    /// A write on the side of a lookup, which leaves the handle's lookups on the read servers
    /// (see `Store::write_aside`).
    pub(crate) fn write_aside<T>(&self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.lock().write_aside(op)
    }

    /// Sends this handle's lookups to the primary (`database`) from now on, never to the
    /// `replicas`: what administration tools need, to see what was just written by them or
    /// by others. A handle does this by itself once it has made a change.
    pub fn read_from_primary(&self) {
        self.lock().read_from_primary();
    }

    /// Asks each configured read server (`replicas`) whether it may serve lookups now: its
    /// lag, or why it is skipped. Empty without `replicas`. Never fails: a server that cannot
    /// be reached says so in its status.
    pub fn check_replicas(&self) -> Vec<crate::ReplicaStatus> {
        store::check_replicas(&self.config)
    }

    /// A write of exactly one statement (see `Store::write_one`).
    pub(crate) fn write_one<T>(&self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.lock().write_one(op)
    }
}
