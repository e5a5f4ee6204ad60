//! The audit log's SQL and schema texts: one table of its own beside the seed's five, written
//! in the same transaction as the change it records.

use super::{mysql, sqlite, Backend, Row, StoreKind, Value};
use crate::error::{Error, Result};

/// The audit table's name.
pub(crate) const TABLE: &str = "audit_log";

/// One record of the audit log. Never holds a password or a password hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing with every record.
    pub id: i64,
    /// When, in seconds since 1970-01-01 UTC (see [`AuditRecord::when`]).
    pub at: i64,
    /// Who: `unix:<user>` for vmailctl and the scripts, `domain:<name>` for the control panel,
    /// or what a caller set with [`crate::Vmail::set_actor`].
    pub actor: String,
    /// From where: `local`, or the control panel's client address.
    pub origin: String,
    /// The domain the change concerns (empty for site-wide records such as an import).
    pub domain: String,
    /// What: `domain`, `popbox`, `forwarder`, `catch-all`, `alias`, `password`, `session`,
    /// `import`, `migration`.
    pub object: String,
    /// Which one, e.g. `alice@example.org`.
    pub name: String,
    /// `created`, `changed`, `deleted`, `signed-in`, `signed-out`, `sign-in-failed`, `expired`,
    /// `imported`, `migrated`, `rehashed`.
    pub action: String,
    /// The values before the change (`key=value, ...`), if any.
    pub before: Option<String>,
    /// The values after the change, if any.
    pub after: Option<String>,
    /// `ok`, or `failed` (a refused control-panel sign-in).
    pub outcome: String,
}

impl AuditRecord {
    /// The time as `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn when(&self) -> String {
        crate::audit::utc(self.at)
    }
}

/// Which records [`crate::Vmail::audit_log`] returns; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Only this domain's records.
    pub domain: Option<String>,
    /// Only records at or after this time (seconds since the epoch).
    pub since: Option<i64>,
    /// Only records before this time.
    pub until: Option<i64>,
    /// Only this action (`created`, `changed`, ...).
    pub action: Option<String>,
    /// Only this actor, exactly.
    pub actor: Option<String>,
    /// At most this many records, the newest (all when `None`).
    pub limit: Option<u32>,
}

/// The audit table's schema text for a backend.
pub(crate) fn schema_text(kind: StoreKind) -> &'static str {
    match kind {
        StoreKind::Mysql => mysql::AUDIT_SCHEMA,
        StoreKind::Sqlite => sqlite::AUDIT_SCHEMA,
    }
}

/// True when the audit table exists.
pub(crate) fn table_exists(db: &mut dyn Backend) -> Result<bool> {
    let sql = match db.kind() {
        StoreKind::Mysql => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name = ?"
        }
        StoreKind::Sqlite => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
    };
    let rows = db.query(sql, &[TABLE.into()])?;
    let count = rows
        .into_iter()
        .next()
        .and_then(|mut r| r.pop())
        .and_then(Value::int);
    Ok(count.unwrap_or(0) > 0)
}

pub(crate) fn insert(db: &mut dyn Backend, r: &AuditRecord) -> Result<()> {
    db.execute(
        "INSERT INTO audit_log (changed_at, actor, origin, domain_name, object, name, action, \
         before_value, after_value, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            r.at.into(),
            r.actor.as_str().into(),
            r.origin.as_str().into(),
            r.domain.as_str().into(),
            r.object.as_str().into(),
            r.name.as_str().into(),
            r.action.as_str().into(),
            r.before.as_deref().into(),
            r.after.as_deref().into(),
            r.outcome.as_str().into(),
        ],
    )
    .map(drop)
}

/// The records `filter` selects, oldest first.
pub(crate) fn select(db: &mut dyn Backend, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
    let mut sql = "SELECT id, changed_at, actor, origin, domain_name, object, name, action, \
                   before_value, after_value, outcome FROM audit_log WHERE 1 = 1"
        .to_string();
    let mut params: Vec<Value> = Vec::new();
    let mut add = |clause: &str, value: Value| {
        sql.push_str(clause);
        params.push(value);
    };
    if let Some(d) = &filter.domain {
        add(" AND domain_name = ?", d.as_str().into());
    }
    if let Some(t) = filter.since {
        add(" AND changed_at >= ?", t.into());
    }
    if let Some(t) = filter.until {
        add(" AND changed_at < ?", t.into());
    }
    if let Some(a) = &filter.action {
        add(" AND action = ?", a.as_str().into());
    }
    if let Some(a) = &filter.actor {
        add(" AND actor = ?", a.as_str().into());
    }
    sql.push_str(" ORDER BY id DESC");
    if let Some(n) = filter.limit {
        sql.push_str(&format!(" LIMIT {n}"));
    }
    let mut rows: Vec<AuditRecord> = db.query(&sql, &params)?.into_iter().map(row).collect();
    rows.reverse();
    Ok(rows)
}

fn row(row: Row) -> AuditRecord {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    AuditRecord {
        id: next().int().unwrap_or(0),
        at: next().int().unwrap_or(0),
        actor: next().text().unwrap_or_default(),
        origin: next().text().unwrap_or_default(),
        domain: next().text().unwrap_or_default(),
        object: next().text().unwrap_or_default(),
        name: next().text().unwrap_or_default(),
        action: next().text().unwrap_or_default(),
        before: next().text(),
        after: next().text(),
        outcome: next().text().unwrap_or_default(),
    }
}

/// Deletes the records older than `before` (seconds since the epoch); returns how many.
pub(crate) fn prune(db: &mut dyn Backend, before: i64) -> Result<u64> {
    db.execute(
        "DELETE FROM audit_log WHERE changed_at < ?",
        &[before.into()],
    )
}

/// The error for a change whose record cannot be written: the change is not made either.
pub(crate) fn write_failed(e: &Error) -> Error {
    Error::new(
        e.kind(),
        format!("cannot write the audit record, so the change was not made: {e}"),
    )
}
