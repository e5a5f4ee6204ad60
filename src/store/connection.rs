//! [`Store`]: the connections of one handle. One to a primary (every write, and every lookup
//! once the handle has written, so that it reads its own writes) and, when `replicas` are
//! configured, one to a read server for lookups. Each is opened on first use, replaced after
//! failures, and after a `fork()` abandoned without being closed (closing would send a QUIT on
//! a socket the parent still uses).

use std::time::{Duration, Instant};

use super::servers::{self, Candidate, Health};
use super::{call_budget, connect, kind_of_url, refuse_without_transactions, Backend, StoreKind};
use crate::config::{redact_url, Config};
use crate::domain_cache::DomainCache;
use crate::error::{Error, ErrorKind, Result};

/// How many times a write chosen as a deadlock victim runs again before the conflict is
/// reported as temporary.
const DEADLOCK_RETRIES: u64 = 4;

/// Which servers a call may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The primaries.
    Primary,
    /// The read servers, falling back to the primaries.
    Read,
}

/// One open connection and what the store remembers about it.
struct Link {
    conn: Box<dyn Backend>,
    /// The URL it was opened on, for health marks.
    url: String,
    /// Opened with timeouts cut to what was left of a call's budget: replaced after that call,
    /// so later calls get the full timeouts.
    trimmed: bool,
    /// When to look again whether this is still the right server (read links only).
    review_at: Option<Instant>,
    /// A current replica that was the first one listed: at review its lag is read again in
    /// place. Any other read link (a later replica, a primary, a stale replica) is given up
    /// at review so that the first choice gets its chance again.
    first_choice: bool,
}

/// The connections of one handle (see the module comment).
pub(crate) struct Store {
    config: Config,
    primary: Option<Link>,
    reader: Option<Link>,
    /// The role of the call in progress.
    role: Role,
    /// Lookups go to the primary: the handle has written, or was asked to.
    reads_primary: bool,
    health: Health,
    /// The process that opened the connections; another pid means we are a forked child.
    owner_pid: u32,
    /// Domain rows just read through this handle (emptied by every write).
    pub(crate) domains: DomainCache,
    /// When the current call must give up (see [`call_budget`]).
    deadline: Option<Instant>,
}

impl Store {
    pub(crate) fn new(config: Config) -> Store {
        Store {
            domains: DomainCache::new(config.domain_cache_max_age.unwrap_or_default()),
            config,
            primary: None,
            reader: None,
            role: Role::Primary,
            reads_primary: false,
            health: Health::default(),
            owner_pid: std::process::id(),
            deadline: None,
        }
    }

    /// From now on lookups go to the primary too (administration tools: they must see what
    /// they and others just wrote).
    pub(crate) fn read_from_primary(&mut self) {
        self.reads_primary = true;
        self.reader = None;
    }

    fn slot(&mut self) -> &mut Option<Link> {
        match self.role {
            Role::Primary => &mut self.primary,
            Role::Read => &mut self.reader,
        }
    }

    /// The live connection of the call's role, (re)connecting as needed.
    pub(crate) fn conn(&mut self) -> Result<&mut dyn Backend> {
        if self.abandon_if_forked() {
            self.owner_pid = std::process::id();
        }
        if self.slot().is_none() {
            let link = match self.role {
                Role::Primary => self.connect_primary()?,
                Role::Read => self.connect_reader()?,
            };
            *self.slot() = Some(link);
        }
        let link = self.slot().as_mut().expect("connection was just set");
        Ok(link.conn.as_mut())
    }

    /// In a forked child the connections' sockets are shared with the parent: forget them (no
    /// QUIT, no close handshake; the descriptors stay open until this child exits).
    fn abandon_if_forked(&mut self) -> bool {
        if std::process::id() == self.owner_pid {
            return false;
        }
        for link in [self.primary.take(), self.reader.take()]
            .into_iter()
            .flatten()
        {
            std::mem::forget(link);
        }
        true
    }

    /// The error of a call whose budget is spent (`last`: the failure before), if it is.
    fn budget_spent(&self, last: &Error) -> Option<Error> {
        self.time_left().is_zero().then(|| {
            Error::temporary(format!(
                "no database answered within {} s ({last})",
                call_budget(&self.config).as_secs_f32()
            ))
        })
    }

    /// Opens `url` with its configured timeouts cut to what is left of the call's budget.
    fn open(&self, url: &str, last: &Error) -> Result<Link> {
        if let Some(spent) = self.budget_spent(last) {
            return Err(spent);
        }
        let left = self.time_left();
        let mut config = self.config.clone();
        config.connect_timeout = config.connect_timeout.min(left);
        config.read_timeout = config.read_timeout.min(left);
        let trimmed = config.connect_timeout < self.config.connect_timeout
            || config.read_timeout < self.config.read_timeout;
        Ok(Link {
            conn: connect(url, &config)?,
            url: url.to_string(),
            trimmed,
            review_at: None,
            first_choice: false,
        })
    }

    /// The primaries in order (those found down lately last), within the call's budget.
    fn connect_primary(&mut self) -> Result<Link> {
        let mut last = Error::invalid("no database URL configured");
        let primaries = self.config.databases.clone();
        for url in self.health.order(&primaries) {
            if let Some(spent) = self.budget_spent(&last) {
                return Err(spent);
            }
            match self.open(url, &last) {
                Ok(link) => return Ok(link),
                Err(e) => {
                    self.health.skip(url, self.config.replica_recheck);
                    last = e;
                }
            }
        }
        Err(last)
    }

    /// A server for lookups, in [`servers::read_order`]. A replica is used only when current
    /// (its lag is read on connecting); the first stale one found is kept as a last resort,
    /// for when no primary answers either.
    fn connect_reader(&mut self) -> Result<Link> {
        let (replicas, primaries) = (self.config.replicas.clone(), self.config.databases.clone());
        let recheck = self.config.replica_recheck;
        let mut last = Error::invalid("no database URL configured");
        let mut spare: Option<Link> = None;
        for candidate in servers::read_order(&replicas, &primaries, &self.health) {
            let url = match candidate {
                Candidate::LastResort(_) if spare.is_some() => break,
                Candidate::Replica(url) | Candidate::Primary(url) | Candidate::LastResort(url) => {
                    url
                }
            };
            if let Some(spent) = self.budget_spent(&last) {
                last = spent;
                break;
            }
            let mut link = match self.open(url, &last) {
                Ok(link) => link,
                Err(e) => {
                    self.health.skip(url, recheck);
                    last = e;
                    continue;
                }
            };
            if let Candidate::Replica(url) = candidate {
                if let Some(why) = self.stale(&mut link) {
                    self.health.skip(url, recheck);
                    last = Error::temporary(format!("replica {} skipped: {why}", redact_url(url)));
                    spare.get_or_insert(link);
                    continue;
                }
                link.first_choice = replicas.first().is_some_and(|first| first == url);
            }
            link.review_at = Some(Instant::now() + recheck);
            return Ok(link);
        }
        let mut link = spare.ok_or(last)?;
        link.review_at = Some(Instant::now() + recheck);
        Ok(link)
    }

    /// Why the replica behind `link` may not serve lookups now, if it may not.
    fn stale(&self, link: &mut Link) -> Option<String> {
        match link.conn.replica_state() {
            Ok(state) => state.stale_reason(self.config.max_replica_lag),
            Err(e) => Some(e.to_string()),
        }
    }

    /// At a read link's review time: a first-choice replica has its lag read again; any other
    /// read link is given up so that the order is tried afresh.
    fn review_reader(&mut self) {
        let now = Instant::now();
        let Some(mut link) = self.reader.take() else {
            return;
        };
        if link.review_at.is_some_and(|at| at > now) {
            self.reader = Some(link);
        } else if link.first_choice {
            match self.stale(&mut link) {
                Some(_) => self.health.skip(&link.url, self.config.replica_recheck),
                None => {
                    link.review_at = Some(now + self.config.replica_recheck);
                    self.reader = Some(link);
                }
            }
        }
    }

    /// What is left of the current call's budget (all of it outside a call).
    fn time_left(&self) -> Duration {
        self.deadline.map_or(call_budget(&self.config), |d| {
            d.saturating_duration_since(Instant::now())
        })
    }

    /// Runs schema statements once on the primary: no transaction (MySQL commits DDL
    /// implicitly anyway) and no retry (a statement whose fate is unknown is not run twice).
    pub(crate) fn ddl<T>(&mut self, op: impl FnOnce(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.role = Role::Primary;
        let result = op(self.conn()?);
        match &result {
            Err(e) if e.kind() == ErrorKind::Temporary => self.primary = None,
            Err(_) => {}
            Ok(_) => self.reads_primary = true,
        }
        self.domains.clear();
        result
    }

    /// Runs one call within its budget, then drops connections opened with cut timeouts.
    fn call<T>(&mut self, body: impl FnOnce(&mut Store) -> Result<T>) -> Result<T> {
        self.deadline = Some(Instant::now() + call_budget(&self.config));
        let result = body(self);
        self.deadline = None;
        for slot in [&mut self.primary, &mut self.reader] {
            if slot.as_ref().is_some_and(|link| link.trimmed) {
                *slot = None;
            }
        }
        result
    }

    /// Drops the call's connection after a temporary failure, and says whether one more try
    /// may succeed within the budget. A lookup on a read server tries the next server (the
    /// failed one is skipped for `replica_recheck`). On a primary, only when the server had
    /// ended the connection: a timeout is never retried there, since the server may be hung
    /// and a second wait would double the call's cost.
    fn retry_after_failure(&mut self, had_conn: bool) -> bool {
        let Some(link) = self.slot().take() else {
            return false;
        };
        if self.role == Role::Read {
            self.health.skip(&link.url, self.config.replica_recheck);
            return !self.time_left().is_zero();
        }
        had_conn && link.conn.connection_ended() && !self.time_left().is_zero()
    }

    /// Runs a read-only operation on a read server (or the primary), retrying once on a fresh
    /// connection when the first attempt failed in a way another attempt may not (see
    /// [`Store::retry_after_failure`]).
    pub(crate) fn read<T>(&mut self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        let replicas = !self.config.replicas.is_empty() && !self.reads_primary;
        self.role = if replicas { Role::Read } else { Role::Primary };
        self.call(|store| {
            if store.role == Role::Read {
                store.review_reader();
            }
            let had_conn = store.slot().is_some();
            match op(store.conn()?) {
                Err(e) if e.kind() == ErrorKind::Temporary => {
                    if !store.retry_after_failure(had_conn) {
                        return Err(e);
                    }
                    let second = op(store.conn()?);
                    if second.is_err() {
                        *store.slot() = None;
                    }
                    second
                }
                other => other,
            }
        })
    }

    /// Runs `op` in one transaction on the primary: all of it commits, or none of it does.
    /// When the held connection turns out to have been ended by the server at `BEGIN` (nothing
    /// of the write was sent), the write goes to a fresh connection; once anything of it was
    /// sent, a failure is reported and never retried (its fate may be unknown). The one
    /// exception is a transaction the server chose as a deadlock victim: it was rolled back
    /// whole, so it runs again, a few times at most and after a short pause (it then sees
    /// what the other transaction committed). After a write, the handle's lookups go to the
    /// primary too (it reads its own writes).
    pub(crate) fn write<T>(&mut self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.transact(true, op)
            .inspect(|_| self.reads_primary = true)
    }

    /// As [`Store::write`] for an `op` that runs exactly one statement: that is atomic on any
    /// engine, so it also runs on tables without transactions (MyISAM).
    pub(crate) fn write_one<T>(&mut self, op: impl Fn(&mut dyn Backend) -> Result<T>) -> Result<T> {
        self.transact(false, op)
            .inspect(|_| self.reads_primary = true)
    }

    /// A write done on the side of a lookup (a rehash after a login, a failed sign-in's audit
    /// record): as [`Store::write`], but the handle's lookups stay on the read servers, and
    /// with replicas it is not even tried while the primary was found down lately (a lookup
    /// must not wait for it; without replicas the one server is always tried, as before).
    pub(crate) fn write_aside<T>(
        &mut self,
        op: impl Fn(&mut dyn Backend) -> Result<T>,
    ) -> Result<T> {
        let primaries = &self.config.databases;
        if !self.config.replicas.is_empty() && primaries.iter().all(|u| self.health.is_skipped(u)) {
            return Err(Error::temporary(
                "the primary was found unavailable moments ago; this write is left for later",
            ));
        }
        self.transact(true, op)
    }

    fn transact<T>(
        &mut self,
        needs_transactions: bool,
        op: impl Fn(&mut dyn Backend) -> Result<T>,
    ) -> Result<T> {
        // A write may change what the domain cache holds: it never outlives one.
        self.domains.clear();
        self.role = Role::Primary;
        self.call(|store| {
            store.before_write(|db| {
                if needs_transactions {
                    refuse_without_transactions(db)?;
                }
                db.begin()
            })?;
            let mut result = store.transaction_body(&op);
            for attempt in 1..=DEADLOCK_RETRIES {
                if result.is_ok() || !store.primary.as_ref().is_some_and(|l| l.conn.deadlocked()) {
                    break;
                }
                // The victim's retry must not meet the winner still between its lock and its
                // insert (two gap locks on one name deadlock again): the winner needs well
                // under a millisecond to commit once its wait is over.
                std::thread::sleep(Duration::from_millis(2 * attempt));
                store.conn()?.begin()?;
                result = store.transaction_body(&op);
            }
            result
        })
    }

    /// Runs what precedes a write (the engine check, BEGIN): nothing of the write itself is
    /// sent yet, so when the held connection turns out to have been ended by the server, it
    /// runs once more on a fresh connection.
    fn before_write(&mut self, step: impl Fn(&mut dyn Backend) -> Result<()>) -> Result<()> {
        let had_conn = self.primary.is_some();
        let first = step(self.conn()?);
        let result = match first {
            Err(e) if e.kind() == ErrorKind::Temporary && self.retry_after_failure(had_conn) => {
                step(self.conn()?)
            }
            other => other,
        };
        if let Err(e) = &result {
            self.drop_primary_if_temporary(e);
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
                self.drop_primary_if_temporary(e);
            } else {
                conn.rollback();
            }
        }
        result
    }

    /// After a temporary failure the primary's connection is given up, and with several
    /// primaries (a Galera cluster, a failed-over pair) the next write tries the next one
    /// first: a read-only answer is what a demoted primary gives.
    fn drop_primary_if_temporary(&mut self, e: &Error) {
        if e.kind() == ErrorKind::Temporary {
            if let Some(link) = self.primary.take() {
                self.health.skip(&link.url, self.config.replica_recheck);
            }
        }
    }

    /// The live connection's kind; before the first connection, the first URL's (a failover
    /// list may mix backends, so only the connection knows for sure).
    pub(crate) fn kind(&self) -> StoreKind {
        match self.primary.as_ref().or(self.reader.as_ref()) {
            Some(link) => link.conn.kind(),
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
    /// A forked child that frees an inherited handle must not close the parent's connections
    /// (a MySQL `COM_QUIT` on the shared socket would end the parent's session): forget them.
    fn drop(&mut self) {
        self.abandon_if_forked();
    }
}
