//! The audit log: who changed what, when and from where.
//!
//! Every change writes one record in the same transaction as the change (the call sites are the
//! `audit::` lines in the write paths of `admin`, `records`, `session`, `auth` and `schema`), so
//! a change rolled back leaves no record and, while audit is on, no change commits without its
//! record. Lookups write nothing. The actor is a handle setting: by default the Unix user the
//! process runs as (vmailctl, the Perl scripts); the control panel sets the signed-in domain and
//! the client address. Passwords and hashes never reach a record (see `entry.rs`).

mod entry;
mod time;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

pub(crate) use entry::{Entry, InputDigest};
pub use time::{parse_duration, parse_utc, utc};

pub use crate::store::audit::{AuditFilter, AuditRecord};

use crate::address::{normalize_domain, printable};
use crate::config::AuditMode;
use crate::error::{Error, ErrorKind, Result};
use crate::records::Record;
use crate::rows::Popbox;
use crate::store::{audit as store, sql, Backend};
use crate::vmail::Vmail;

/// Longest actor or origin string kept (the columns' width).
const MAX_ACTOR: usize = 255;

/// A handle's audit settings: who acts, and whether the table has been seen.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// `None` until set or first needed: opening a handle for lookups reads no files.
    who: Mutex<Option<(String, String)>>,
    /// Once the table is seen it is expected from then on (auto mode), so a table dropped under
    /// a running program makes changes fail instead of going unrecorded.
    seen: AtomicBool,
}

impl State {
    fn who(&self) -> (String, String) {
        let mut who = self.who.lock().unwrap_or_else(|p| p.into_inner());
        who.get_or_insert_with(|| (default_actor(), "local".to_string()))
            .clone()
    }
}

/// `unix:<user>` for the real uid of this process (from /proc and /etc/passwd: no libc call).
fn default_actor() -> String {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(str::to_string))
        });
    let Some(uid) = uid else {
        return format!(
            "unix:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".to_string())
        );
    };
    let name = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid).then(|| f[0].to_string())
        })
    });
    format!("unix:{}", name.unwrap_or(uid))
}

fn checked_label(what: &str, value: &str) -> Result<String> {
    if value.is_empty() || value.len() > MAX_ACTOR || value.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} must be 1 to {MAX_ACTOR} bytes without control characters: {}",
            printable(value)
        )));
    }
    Ok(value.to_string())
}

impl Vmail {
    /// Names who makes this handle's changes in the audit log (default: `unix:<user>`), and
    /// from where (default: `local`; the control panel gives the client address).
    ///
    /// # Errors
    /// `InvalidInput` for an empty string, one over 255 bytes, or one with control characters.
    pub fn set_actor(&self, actor: &str, origin: Option<&str>) -> Result<()> {
        let actor = checked_label("actor", actor)?;
        let origin = checked_label("origin", origin.unwrap_or("local"))?;
        *self.audit.who.lock().unwrap_or_else(|p| p.into_inner()) = Some((actor, origin));
        Ok(())
    }

    /// Who and from where this handle's changes are recorded as.
    pub fn actor(&self) -> (String, String) {
        self.audit.who()
    }

    /// Creates the audit table when the database lacks it (any schema, legacy included); true
    /// when it was created.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable; the database's refusal otherwise.
    pub fn create_audit_table(&self) -> Result<bool> {
        self.ddl(create_table)
    }

    /// True when the database has the audit table (whatever the handle's `audit` setting).
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn audit_table_exists(&self) -> Result<bool> {
        self.read(store::table_exists)
    }

    /// True when changes through this handle write audit records now.
    ///
    /// # Errors
    /// `Temporary` when the database is unreachable.
    pub fn audit_enabled(&self) -> Result<bool> {
        match self.config().audit {
            AuditMode::Off => Ok(false),
            AuditMode::On => Ok(true),
            AuditMode::Auto => self.read(store::table_exists),
        }
    }

    /// The audit records `filter` selects, oldest first (the newest `limit` when set).
    ///
    /// # Errors
    /// `NotFound` when the database has no audit table; `Temporary` when it is unreachable.
    pub fn audit_log(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let mut filter = filter.clone();
        filter.domain = filter.domain.as_deref().map(normalize_domain).transpose()?;
        self.read(|db| {
            if !store::table_exists(db)? {
                return Err(no_table());
            }
            store::select(db, &filter)
        })
    }

    /// Deletes the audit records older than `age`, recording that it did; returns how many.
    ///
    /// # Errors
    /// `NotFound` when the database has no audit table; `Temporary` when it is unreachable.
    pub fn prune_audit_log(&self, age: Duration) -> Result<u64> {
        let age = i64::try_from(age.as_secs()).unwrap_or(i64::MAX);
        let before = time::now().saturating_sub(age);
        self.write(|db| {
            if !store::table_exists(db)? {
                return Err(no_table());
            }
            let count = store::prune(db, before)?;
            record(db, self, Entry::pruned(count, before))?;
            Ok(count)
        })
    }
}

fn no_table() -> Error {
    Error::not_found(format!(
        "the database has no {} table: run `vmailctl log init`",
        store::TABLE
    ))
}

/// Creates the audit table if missing (runs on the DDL path); true when created.
pub(crate) fn create_table(db: &mut dyn Backend) -> Result<bool> {
    if store::table_exists(db)? {
        return Ok(false);
    }
    db.execute_script(store::schema_text(db.kind()))?;
    Ok(true)
}

/// Whether this change must be recorded: `audit = on` always (a missing table is an error),
/// `auto` when the table exists.
pub(crate) fn enabled(db: &mut dyn Backend, vmail: &Vmail) -> Result<bool> {
    let mode = vmail.config().audit;
    if mode == AuditMode::Off {
        return Ok(false);
    }
    if vmail.audit.seen.load(Ordering::Relaxed) {
        return Ok(true);
    }
    if store::table_exists(db).map_err(|e| store::write_failed(&e))? {
        vmail.audit.seen.store(true, Ordering::Relaxed);
        return Ok(true);
    }
    match mode {
        AuditMode::On => Err(Error::new(
            ErrorKind::NotFound,
            format!(
                "audit = on but the database has no {} table, so the change was not made: \
                 run `vmailctl log init`",
                store::TABLE
            ),
        )),
        _ => Ok(false),
    }
}

/// Whether a change through `vmail` is likely to be recorded, asked before its transaction so
/// that costly parts of the record (an import's digest) can be made on the way; `when` decides
/// inside the transaction. Unsure (the database unreachable) counts as yes.
pub(crate) fn likely(vmail: &Vmail) -> bool {
    match vmail.config().audit {
        AuditMode::Off => false,
        AuditMode::On => true,
        AuditMode::Auto => {
            vmail.audit.seen.load(Ordering::Relaxed)
                || vmail.read(store::table_exists).unwrap_or(true)
        }
    }
}

/// Writes `entry`'s record inside the change's transaction; its failure fails the change.
pub(crate) fn record(db: &mut dyn Backend, vmail: &Vmail, entry: Entry) -> Result<()> {
    when(db, vmail, true, || entry).map(drop)
}

fn write(db: &mut dyn Backend, vmail: &Vmail, entry: Entry) -> Result<()> {
    let (actor, origin) = vmail.audit.who();
    let row = AuditRecord {
        id: 0,
        at: time::now(),
        actor,
        origin,
        domain: entry.domain,
        object: entry.object.to_string(),
        name: entry.name,
        action: entry.action.to_string(),
        before: entry.before,
        after: entry.after,
        outcome: entry.outcome.to_string(),
    };
    store::insert(db, &row).map_err(|e| store::write_failed(&e))
}

/// Records `entry` when `changed` (built only when audit is on), and passes `changed` on.
pub(crate) fn when(
    db: &mut dyn Backend,
    vmail: &Vmail,
    changed: bool,
    entry: impl FnOnce() -> Entry,
) -> Result<bool> {
    if changed && enabled(db, vmail)? {
        write(db, vmail, entry())?;
    }
    Ok(changed)
}

/// Records a refused control-panel sign-in in a transaction of its own; a failure to record it
/// does not change the refusal.
pub(crate) fn sign_in_failed(vmail: &Vmail, domain: &str) {
    let domain = normalize_domain(domain).unwrap_or_else(|_| printable(domain));
    let _ = vmail.write_aside(|db| record(db, vmail, Entry::sign_in_failed(&domain)));
}

// ---- the write paths that need the row before they change it ----

pub(crate) fn delete_popbox(
    db: &mut dyn Backend,
    v: &Vmail,
    domain: &str,
    local: &str,
) -> Result<bool> {
    // only the row that truly has this name (a `_ci` collation would also delete `böb`)
    let Some(before) = sql::popbox(db, domain, local)? else {
        return Ok(false);
    };
    let changed = sql::delete_popbox(db, domain, local)?;
    when(db, v, changed, || Entry::popbox_deleted(&before))
}

pub(crate) fn delete_forwarder(
    db: &mut dyn Backend,
    v: &Vmail,
    domain: &str,
    local: &str,
) -> Result<bool> {
    match sql::forwarder(db, domain, local)? {
        Some(before) => {
            let changed = sql::delete_forwarder(db, domain, local)?;
            when(db, v, changed, || Entry::forwarder_deleted(&before))
        }
        None => Ok(false),
    }
}

pub(crate) fn delete_alias(db: &mut dyn Backend, v: &Vmail, alias: &str) -> Result<bool> {
    match sql::alias_for_update(db, alias)? {
        Some(before) => {
            let changed = sql::delete_alias(db, alias)?;
            when(db, v, changed, || Entry::alias_deleted(&before))
        }
        None => Ok(false),
    }
}

/// A popbox's hash set by an administrator (`how`: `set` for a new password, `hash-set` for a
/// hash made elsewhere).
pub(crate) fn set_popbox_hash(
    db: &mut dyn Backend,
    v: &Vmail,
    (domain, local): (&str, &str),
    hash: &str,
    how: &'static str,
) -> Result<bool> {
    let Some(popbox) = sql::popbox(db, domain, local)? else {
        return Ok(false);
    };
    let before = popbox.password_hash;
    let changed = sql::set_popbox_hash(db, domain, local, hash)?;
    let name = format!("{local}@{domain}");
    when(db, v, changed, || {
        Entry::password(how, domain, &name, before.as_deref(), hash)
    })
}

/// A popbox's hash swapped: by its user (`changed`) or on login (`rehashed`).
pub(crate) fn swap_popbox_hash(
    db: &mut dyn Backend,
    v: &Vmail,
    popbox: &Popbox,
    (old, new): (&str, &str),
    how: &'static str,
) -> Result<bool> {
    let changed = sql::swap_popbox_hash(db, popbox, old, new)?;
    let name = format!("{}@{}", popbox.local_part, popbox.domain);
    when(db, v, changed, || {
        Entry::password(how, &popbox.domain, &name, Some(old), new)
    })
}

/// A domain administrator's hash upgraded on sign-in.
pub(crate) fn swap_domain_hash(
    db: &mut dyn Backend,
    v: &Vmail,
    domain: &str,
    old: &str,
    new: &str,
) -> Result<bool> {
    let changed = sql::swap_domain_hash(db, domain, old, new)?;
    when(db, v, changed, || {
        Entry::password("rehashed", domain, domain, Some(old), new)
    })
}

pub(crate) fn delete_session(db: &mut dyn Backend, v: &Vmail, domain: &str) -> Result<bool> {
    let changed = sql::delete_session(db, domain)?;
    when(db, v, changed, || Entry::session("signed-out", domain))
}

pub(crate) fn expire_sessions(db: &mut dyn Backend, v: &Vmail, now: i64) -> Result<u64> {
    let count = sql::expire_sessions(db, now)?;
    when(db, v, count > 0, || Entry::sessions_expired(count))?;
    Ok(count)
}

/// After the name columns of `tables` were given the case-insensitive collation (DDL, committed
/// implicitly, so the record follows it): the audit table if missing, then one record.
pub(crate) fn names_made_case_insensitive(
    db: &mut dyn Backend,
    v: &Vmail,
    tables: &[String],
) -> Result<()> {
    create_table(db)?;
    record(db, v, Entry::names_made_case_insensitive(tables))
}

/// After a migration (DDL: MySQL commits it implicitly, so the record follows it): the audit
/// table if missing, then one record with the counts and digest of the migrated rows.
pub(crate) fn migrated(db: &mut dyn Backend, v: &Vmail) -> Result<()> {
    create_table(db)?;
    let mut rows: Vec<Record> = sql::domains(db)?.into_iter().map(Record::Domain).collect();
    rows.extend(sql::aliases(db, None)?.into_iter().map(Record::Alias));
    rows.extend(sql::popboxes(db, None)?.into_iter().map(Record::Popbox));
    rows.extend(
        sql::forwarders(db, None)?
            .into_iter()
            .map(Record::Forwarder),
    );
    record(db, v, Entry::migrated(&rows))
}
